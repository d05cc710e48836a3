"""Training AdaShare's policy with the network's weights: a warm-up, then alternating updates.

The network holds every copy of every block (:class:`~nas.supernet.Supernet`). The warm-up
trains its weights as hard sharing (every task runs copy 0 of every block). Then each policy
epoch anneals the Gumbel temperature, unlocks the curriculum's next depth from the top, and
alternates batches: even steps update the weights under sampled gates (the policy held), odd
steps update the policy on the task losses plus the sparsity and sharing regularisers (the
weights held). Both use the training split only: validation is the study's to choose with.
Each epoch ends with a checkpoint (weights, policy, both optimizers, the schedule and the batch
order), so a killed training resumes from its last epoch and goes on exactly as it would have.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from nas.policy import Policy, Temperature, gated_forward, unlocked
from nas.problem import Problem
from nas.supernet import Supernet
from nas.train import TrainConfig, batches, optimizer_for

__all__ = ["PolicyTraining", "train_policy"]


@dataclass(frozen=True)
class PolicyTraining:
    """How the policy is learned (AdaShare's recipe at this project's scale).

    Attributes:
        warmup_epochs: epochs of hard-sharing weight training first.
        policy_epochs: epochs of alternating weight and policy updates.
        curriculum_every: policy epochs between unlocking one more depth.
        sparsity, sharing: weights of the two regularisers in the policy's loss.
        policy_lr: the policy's Adam learning rate; the weights use AdamW at ``lr``.
    """

    warmup_epochs: int = 2
    policy_epochs: int = 6
    curriculum_every: int = 1
    sparsity: float = 0.02
    sharing: float = 0.05
    policy_lr: float = 0.01
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    temperature: Temperature = field(default_factory=Temperature)

    @property
    def epochs(self) -> int:
        """All epochs: warm-up and policy."""
        return self.warmup_epochs + self.policy_epochs


def train_policy(
    net: Supernet,
    policy: Policy,
    problem: Problem,
    how: PolicyTraining,
    start: dict[str, Any] | None,
    save: Callable[[dict[str, Any]], None],
    progress: bool = False,
) -> int:
    """Train ``net`` and ``policy`` in place from checkpoint ``start``; returns epochs run."""
    device, train = problem.device, problem.train
    net.to(device)
    policy.to(device)
    config = TrainConfig(epochs=how.epochs, batch_size=how.batch_size, lr=how.lr)
    steps = math.ceil(len(train) / how.batch_size)
    opt, sched = optimizer_for(net, config, (), steps)
    popt = torch.optim.Adam(policy.parameters(), lr=how.policy_lr)
    gen = torch.Generator().manual_seed(how.seed)
    first = 1
    if start is not None:
        net.load_state_dict(start["model"])
        policy.load_state_dict(start["policy"])
        opt.load_state_dict(start["optimizer"])
        popt.load_state_dict(start["policy_optimizer"])
        sched.load_state_dict(start["scheduler"])
        gen.set_state(start["generator"])
        first = start["epoch"] + 1
    tasks = problem.tasks
    bar = tqdm(
        range(first, how.epochs + 1), desc="adashare policy", unit="epoch", initial=first - 1,
        total=how.epochs, disable=not progress, leave=False,
    )  # fmt: skip
    for epoch in bar:
        torch.manual_seed(how.seed * 100_003 + epoch)  # the Gumbel noise of this epoch
        k = epoch - how.warmup_epochs - 1  # policy epoch, from 0 (negative: warm-up)
        warm = k < 0
        n_unlocked = 0 if warm else unlocked(k, policy.lockable, how.curriculum_every)
        learned = policy.learned(n_unlocked)
        tau = how.temperature.at(max(k, 0))
        net.train()
        order = torch.randperm(len(train), generator=gen).to(device)
        for step, (idx, x) in enumerate(batches(train, order, how.batch_size, nhwc=False)):
            gates = policy.gates(tau, n_unlocked)
            out = gated_forward(net, x, gates, learned)
            loss = torch.stack(
                [t.compute_loss(out[t.name], train.targets[t.name][idx]) for t in tasks]
            ).sum()
            opt.zero_grad(set_to_none=True)
            popt.zero_grad(set_to_none=True)
            if warm or step % 2 == 0:
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
            else:
                reg = how.sparsity * policy.sparsity_loss(n_unlocked)
                total = loss + reg + how.sharing * policy.sharing_loss()
                total.backward()  # type: ignore[no-untyped-call]
                popt.step()
            sched.step()
        save({
            "epoch": epoch, "epochs": how.epochs, "model": net.state_dict(),
            "policy": policy.state_dict(), "optimizer": opt.state_dict(),
            "policy_optimizer": popt.state_dict(), "scheduler": sched.state_dict(),
            "generator": gen.get_state(),
        })  # fmt: skip
    return how.epochs - first + 1
