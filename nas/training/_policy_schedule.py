"""AdaShare's training schedule in iterations, as its authors' ``train.py`` runs it.

Iterations count from 1. Those before ``warmup`` train the weights as hard sharing on the whole
training split. From iteration ``warmup`` on, the policy phase alternates whole passes over two
disjoint halves of the training split: one pass over the first half updates the weights (under
gates sampled from the policy, the policy held), then one pass over the second half updates the
policy (the weights held). A weights pass and the policy pass after it make one *policy
epoch*. After each policy pass the Gumbel temperature is multiplied by ``decay``; the curriculum
learns the top ``epoch // curriculum_every + 1`` blocks. These are the rules of the authors'
``train.py`` (lines 284-414 at commit 0615a47): ``current_iter < warm_up_iters`` warms up,
``weight_iter_alternate = len(train1_loader)``, ``alpha_iter_alternate = len(train2_loader)``,
``num_train_layers = p_epoch // curriculum_speed + 1``, ``decay_temperature()`` once per policy
pass.

Example (NYUv2's configuration: 20,000 iterations, 4,000 of warm-up, 795 images in halves
of 397 and 398, batch 16, so 24 iterations per pass):

    >>> s = Schedule(iterations=20_000, warmup=4_000, weight_steps=24, policy_steps=24)
    >>> s.at(3_999).phase, s.at(4_000).phase, s.at(4_024).phase, s.at(4_048).phase
    ('warmup', 'weights', 'policy', 'weights')
    >>> s.at(4_048).epoch, round(s.at(4_048).temperature, 4), s.at(4_000 + 48 * 3).unlocked
    (1, 4.825, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Schedule", "Step", "halves_steps"]

Phase = Literal["warmup", "weights", "policy"]


@dataclass(frozen=True)
class Step:
    """What iteration ``i`` does.

    Attributes:
        phase: ``warmup`` (hard sharing, whole split), ``weights`` or ``policy``.
        epoch: the policy epoch (from 0; 0 during the warm-up).
        index: the batch's position in its pass (from 0).
        pass_number: which pass over its data this is (warm-up passes and each half counted
            apart, from 0): it seeds the pass's shuffled order.
        temperature: the Gumbel-softmax temperature.
        unlocked: how many top blocks the policy learns (0 during the warm-up).
    """

    phase: Phase
    epoch: int
    index: int
    pass_number: int
    temperature: float
    unlocked: int


@dataclass(frozen=True)
class Schedule:
    """The iteration-by-iteration plan of one policy training.

    Args:
        iterations: all iterations, warm-up included (the authors' ``total_iters``).
        warmup: the first iteration of the policy phase (their ``warm_up_iters``); the
            iterations before it warm up.
        weight_steps: iterations of a weights pass (batches in the first half).
        policy_steps: iterations of a policy pass (batches in the second half).
        warmup_steps: batches in one pass over the whole split (the warm-up's epochs).
        curriculum_every: policy epochs per newly learned block (their ``curriculum_speed``).
        lockable: blocks the policy can learn (the curriculum's ceiling).
        initial, decay: the temperature, ``initial * decay ** epoch`` (their 5 and 0.965).
    """

    iterations: int
    warmup: int
    weight_steps: int
    policy_steps: int
    warmup_steps: int = 1
    curriculum_every: int = 3
    lockable: int = 8
    initial: float = 5.0
    decay: float = 0.965

    def __post_init__(self) -> None:
        if min(self.iterations, self.weight_steps, self.policy_steps, self.warmup_steps) < 1:
            raise ValueError(f"a schedule needs positive iterations and passes, got {self}")
        if not 1 <= self.warmup <= self.iterations:
            raise ValueError(f"warmup must be in [1, {self.iterations}], got {self.warmup}")

    @property
    def policy_epochs(self) -> int:
        """Policy epochs begun in the whole training (the last may be cut short)."""
        cycle = self.weight_steps + self.policy_steps
        return -(-(self.iterations - self.warmup + 1) // cycle)

    def temperature(self, epoch: int) -> float:
        """The temperature during policy epoch ``epoch``."""
        return self.initial * self.decay**epoch

    def unlocked(self, epoch: int) -> int:
        """Top blocks learned during policy epoch ``epoch``."""
        return min(self.lockable, epoch // max(1, self.curriculum_every) + 1)

    def at(self, i: int) -> Step:
        """What iteration ``i`` (from 1) does."""
        if not 1 <= i <= self.iterations:
            raise ValueError(f"iteration {i} is outside 1..{self.iterations}")
        if i < self.warmup:
            k = i - 1
            return Step("warmup", 0, k % self.warmup_steps, k // self.warmup_steps,
                        self.initial, 0)  # fmt: skip
        j = i - self.warmup
        cycle = self.weight_steps + self.policy_steps
        epoch, r = divmod(j, cycle)
        tau, n = self.temperature(epoch), self.unlocked(epoch)
        if r < self.weight_steps:
            return Step("weights", epoch, r, epoch, tau, n)
        return Step("policy", epoch, r - self.weight_steps, epoch, tau, n)


def halves_steps(n: int, batch_size: int) -> tuple[int, int]:
    """Iterations of a weights pass and of a policy pass over the halves of ``n`` samples.

    The first half holds ``n // 2`` samples; full batches only (the authors' ``drop_last``),
    but at least one batch when a half is smaller than a batch.
    """
    first = n // 2
    return max(1, first // batch_size), max(1, (n - first) // batch_size)
