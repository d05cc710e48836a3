"""Training AdaShare's policy with the network's weights, iteration by iteration as its authors do.

The network holds every copy of every block (:class:`~nas.training.Supernet`). The schedule
(:class:`~nas.training.Schedule`) warms the weights up as hard sharing on the whole
training split, then alternates whole passes over two disjoint halves of it: the first half
trains the weights under gates sampled from the policy, the second trains the policy, so the
policy learns from data of its own and validation stays the study's to choose with. The
optimizers are the authors' (``envs/blockdrop_env.py``, ``define_optimizer``): Adam with betas
(0.5, 0.999) for the warm-up, SGD with momentum 0.9 for the weights of the policy phase, both
with weight decay 1e-4; Adam at 0.01 with weight decay 5e-4 for the policy. During a policy step
the weights are frozen, during a weights step the policy is. A checkpoint (weights, policy,
optimizers, iteration) is saved every ``checkpoint_every`` iterations and at the end; each
pass's order and each iteration's Gumbel noise come from the seed and the iteration, so a killed
training resumes from its last checkpoint and goes on exactly as it would have.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from nas.training._policy import Policy, gated_forward
from nas.training._policy_schedule import Schedule, Step, halves_steps
from nas.training._problem import Problem
from nas.training._supernet import Supernet

__all__ = ["PolicyTraining", "schedule_for", "train_policy"]


@dataclass(frozen=True)
class PolicyTraining:
    """How the policy is learned: the authors' recipe, its lengths in iterations.

    Attributes:
        iterations: all iterations, warm-up included; 0: as many as one candidate's training
            (the authors retrain each layout for as many iterations as the policy took).
        warmup: the fraction of ``iterations`` spent warming up (theirs 4,000 of 20,000).
        curriculum_every: policy epochs per newly learned block (theirs 3; 1 on Taskonomy).
        sparsity, sharing: weights of the two regularisers (their ``reg_w`` and
            ``reg_w_hamming``: 0.001 and 0.05 on NYUv2's three tasks).
        policy_lr: the policy's Adam learning rate (theirs 0.01).
        hard: one-hot straight-through gates instead of the authors' soft samples.
        decay: the temperature's factor per policy epoch (theirs 0.965, from 5).
        batch_size, lr, seed: the weights' batch and learning rate, and the seed (the study's).
        checkpoint_every: iterations between checkpoints.
    """

    iterations: int = 0
    warmup: float = 0.2
    curriculum_every: int = 3
    sparsity: float = 0.001
    sharing: float = 0.05
    policy_lr: float = 0.01
    hard: bool = False
    decay: float = 0.965
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        if self.iterations < 0 or not 0.0 <= self.warmup < 1.0:
            raise ValueError(
                f"iterations must be >= 0 and warmup a fraction in [0, 1), got "
                f"{self.iterations} and {self.warmup}"
            )


def schedule_for(how: PolicyTraining, n_train: int, lockable: int, epochs: int) -> Schedule:
    """The schedule of ``how`` on ``n_train`` training samples; ``epochs``: a candidate's."""
    per_epoch = max(1, n_train // how.batch_size)
    total = how.iterations or epochs * per_epoch
    first, second = halves_steps(n_train, how.batch_size)
    return Schedule(
        iterations=total, warmup=max(1, round(how.warmup * total)), weight_steps=first,
        policy_steps=second, warmup_steps=per_epoch, curriculum_every=how.curriculum_every,
        lockable=lockable, decay=how.decay,
    )  # fmt: skip


@functools.lru_cache(maxsize=4)  # the halves and the current pass: drawn once, not every step
def _order(n: int, seed: int, stream: int, number: int) -> torch.Tensor:
    # Every pass's shuffle is a function of (seed, which data, which pass): nothing to save.
    gen = torch.Generator().manual_seed(seed * 1_000_003 + stream * 100_003 + number)
    return torch.randperm(n, generator=gen)


def _indices(step: Step, n: int, batch: int, seed: int) -> torch.Tensor:
    halves = _order(n, seed, 0, 0)
    first, second = halves[: n // 2], halves[n // 2 :]
    if step.phase == "warmup":
        data, stream = torch.arange(n), 1
    else:
        data, stream = (first, 2) if step.phase == "weights" else (second, 3)
    order = data[_order(len(data), seed, stream, step.pass_number)]
    return order[step.index * batch : (step.index + 1) * batch]


def _optimizers(
    net: nn.Module, policy: Policy, how: PolicyTraining
) -> dict[str, torch.optim.Optimizer]:
    params = list(net.parameters())
    return {
        "warmup": torch.optim.Adam(params, lr=how.lr, betas=(0.5, 0.999), weight_decay=1e-4),
        "weights": torch.optim.SGD(params, lr=how.lr, momentum=0.9, weight_decay=1e-4),
        "policy": torch.optim.Adam(policy.parameters(), lr=how.policy_lr, weight_decay=5e-4),
    }


def train_policy(
    net: Supernet,
    policy: Policy,
    problem: Problem,
    how: PolicyTraining,
    schedule: Schedule,
    start: dict[str, Any] | None,
    save: Callable[[dict[str, Any]], None],
    progress: bool = False,
) -> int:
    """Train ``net`` and ``policy`` in place from checkpoint ``start``; returns iterations run."""
    device, train, tasks = problem.device, problem.train, problem.tasks
    net.to(device)
    policy.to(device)
    opts = _optimizers(net, policy, how)
    done = 0
    if start is not None:
        net.load_state_dict(start["model"])
        policy.load_state_dict(start["policy"])
        for name, opt in opts.items():
            opt.load_state_dict(start["optimizers"][name])
        done = int(start["iteration"])

    def checkpoint(i: int) -> None:
        save({
            "iteration": i, "iterations": schedule.iterations, "model": net.state_dict(),
            "policy": policy.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in opts.items()},
        })  # fmt: skip

    bar = tqdm(
        range(done + 1, schedule.iterations + 1), desc="adashare policy", unit="it",
        initial=done, total=schedule.iterations, disable=not progress, leave=False,
    )  # fmt: skip
    net.train()

    def plan() -> Iterator[tuple[torch.Tensor, int]]:
        for i in range(done + 1, schedule.iterations + 1):
            step = schedule.at(i)
            # Augmentation follows the pass over the data, as an epoch does in train().
            stream = {"warmup": 1, "weights": 2, "policy": 3}[step.phase]
            epoch = stream * 1_000_000 + step.pass_number
            yield _indices(step, len(train), how.batch_size, how.seed), epoch

    for i, (_, x, targets) in zip(bar, train.batches(plan(), seed=how.seed), strict=True):
        step = schedule.at(i)
        torch.manual_seed(how.seed * 1_000_003 + i)  # this iteration's Gumbel noise
        learned = policy.learned(step.unlocked)
        train_policy_now = step.phase == "policy"
        net.requires_grad_(not train_policy_now)
        policy.requires_grad_(train_policy_now)
        gates = policy.gates(step.temperature, step.unlocked, how.hard)
        out = gated_forward(net, x, gates, learned)
        loss = torch.stack([t.compute_loss(out[t.name], targets[t.name]) for t in tasks]).sum()
        if train_policy_now:
            loss = loss + how.sparsity * policy.sparsity_loss(step.unlocked)
            loss = loss + how.sharing * policy.sharing_loss()
        opt = opts[step.phase]
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        if i % how.checkpoint_every == 0 or i == schedule.iterations:
            checkpoint(i)
    net.requires_grad_(True)
    policy.requires_grad_(True)
    return schedule.iterations - done
