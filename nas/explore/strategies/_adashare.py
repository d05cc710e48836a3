"""``--strategy adashare``: AdaShare's learned select-or-skip policy as a peer of the samplers.

The policy is trained with the network's weights as AdaShare's authors do
(:mod:`nas.training._policy_training`: a hard-sharing warm-up, then whole passes over two halves
of the training split that alternate weight and policy updates, under a curriculum and an annealed
soft Gumbel-softmax, with their sparsity and sharing losses; docs/adashare.md sets each choice
beside theirs), once per study, checkpointed in the artifact store like the supernet (a killed
training resumes from its last checkpoint). By default it runs as many iterations as one
candidate's training, as the authors' policy training runs as many as one retraining. Then
``samples`` layouts (the authors retrain 8) drawn from the learned policy, the most likely
first, are queued into the study: they train from scratch as ordinary trials, the confirm stage
chooses among them on validation and tests once.

    mtlnas search --space adashare --strategy adashare --n-trials 10
    mtlnas search --space adashare --strategy adashare --strategy-option iterations=20000
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from nas.core._layout import Layout
from nas.explore.strategies._base import Strategy
from nas.training._policy import Policy
from nas.training._policy_training import PolicyTraining, schedule_for, train_policy
from nas.training._supernet import Supernet

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig
    from nas.explore.evaluators._base import Preparation
    from search_spaces import SearchSpace

__all__ = ["AdaShare", "adashare"]


class AdaShare(Strategy):
    """Learns AdaShare's policy in :meth:`prepare`; queues layouts sampled from it.

    Args:
        samples: layouts to draw from the learned policy.
        how: the policy training (batch size, learning rate and seed come from the study).
    """

    def __init__(self, samples: int, how: PolicyTraining) -> None:
        self.samples, self.how = samples, how
        self.policy: Policy | None = None
        self.unlocked: int | None = None

    def check(self, space: SearchSpace) -> None:
        """Refused outside a select/skip space."""
        from nas.explore.strategies import StrategyError
        from search_spaces._adashare import AdaShareSpace

        if not isinstance(space, AdaShareSpace):
            raise StrategyError(
                "strategy 'adashare' learns a select-or-skip policy: use --space adashare"
            )

    def prepare(self, context: Preparation) -> str | None:
        """Train (or load) the study's policy; refused outside a select/skip space."""
        from nas.explore.strategies import StrategyError
        from search_spaces._adashare import AdaShareSpace

        space, problem = context.space, context.problem
        self.check(space)
        assert isinstance(space, AdaShareSpace)
        if context.state is None:
            raise StrategyError(
                "strategy 'adashare' keeps its policy in the artifact store, and this storage "
                "has none: give --artifacts DIR"
            )
        how = self.how
        if context.config is not None:
            c = context.config
            how = replace(how, batch_size=c.batch_size, lr=c.lr, seed=c.seed)
        tasks = [t.name for t in problem.tasks]
        epochs = context.config.epochs if context.config is not None else 1
        with torch.random.fork_rng(devices=[]):  # initial weights from the study's seed alone
            torch.manual_seed(how.seed)
            net = Supernet(problem.backbone, problem.heads, tasks, problem.benchmark.input_shape,
                           [space.instances] * space.depth)  # fmt: skip
            policy = Policy(tasks, space.depth, space.instances, space.always_run)
            schedule = schedule_for(how, len(problem.train), policy.lockable, epochs)
            with context.state.hold():
                start = context.state.latest()
                before = 0.0 if start is None else float(start.get("seconds", 0.0))
                begun = time.perf_counter()
                ran = 0

                def save(checkpoint: dict[str, Any]) -> None:  # seconds summed over processes
                    checkpoint["seconds"] = before + time.perf_counter() - begun
                    context.state.save(checkpoint)  # type: ignore[union-attr]

                if start is not None and "iteration" not in start:
                    start = None  # an older release's checkpoint (by epoch): learned again
                if start is None or start["iteration"] < start["iterations"]:
                    ran = train_policy(
                        net, policy, problem, how, schedule, start, save, context.progress
                    )
                    start = context.state.latest()
                else:
                    policy.load_state_dict(start["policy"])
        self.policy = policy.cpu()
        self.unlocked = schedule.at(schedule.iterations).unlocked  # learned by the end
        # Counted in samples seen: a candidate's training sees epochs x the training split. A
        # policy step runs every task's path through every option, so it costs more than a
        # candidate's step: the seconds, stored beside, say by how much.
        self.trainings = schedule.iterations * how.batch_size / (epochs * len(problem.train))
        self.seconds = float(start.get("seconds", 0.0)) if start is not None else 0.0
        verb = f"learned in {ran} iterations" if ran else "loaded"
        # What it learned, in one figure: near 1 everywhere is hard sharing, near 0.5 is a
        # policy that has barely moved (its samples are then coin flips).
        learned = self.policy.learned(self.unlocked)
        a = self.policy.select_probability().detach()[:, learned]
        what = f"P(run) {float(a.min()):.2f}-{float(a.max()):.2f}" if a.numel() else "nothing"
        return (
            f"adashare policy of study {context.study_name!r}: {verb} ({schedule.iterations} "
            f"iterations, {schedule.policy_epochs} policy epochs = {self.trainings:.2f} full "
            f"trainings, {self.seconds:.0f} s); on the {int(learned.sum())} blocks it learned, "
            f"{what}"
        )

    def layouts(self, space: SearchSpace, config: SearchConfig) -> Sequence[Layout]:
        """``samples`` distinct layouts drawn from the policy (none before :meth:`prepare`)."""
        del space
        if self.policy is None:
            return ()
        gen = torch.Generator().manual_seed(config.seed)
        return self.policy.sample(self.samples, gen, self.unlocked)


def adashare(
    samples: int = 8,
    iterations: int = 0,
    warmup: float = 0.2,
    curriculum_every: int = 3,
    sparsity: float = 0.001,
    sharing: float = 0.05,
    policy_lr: float = 0.01,
    hard: bool = False,
    decay: float = 0.965,
    checkpoint_every: int = 200,
) -> Strategy:
    """Strategy factory ``adashare``; options as :class:`.policy_training.PolicyTraining`."""
    how = PolicyTraining(iterations, warmup, curriculum_every, sparsity, sharing, policy_lr,
                         hard, decay, checkpoint_every=checkpoint_every)  # fmt: skip
    return AdaShare(samples, how)
