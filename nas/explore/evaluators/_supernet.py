"""The supernet evaluator: train one weight-sharing supernet per study, score a layout in seconds.

:meth:`SupernetEvaluator.prepare` trains the study's supernet (:mod:`nas.training._supernet`)
once, saving a checkpoint after every epoch through the study's
:class:`~nas.explore.evaluators.StateKeeper`, so a killed training resumes from its last saved
epoch and every worker of the study loads the same weights; a trained supernet is never trained
again. :meth:`SupernetEvaluator.evaluate` copies a candidate's weights out of it, recalibrates
batch norm, and scores it on validation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.explore.evaluators._base import (
    Candidate,
    Checkpoint,
    Evaluation,
    Evaluator,
    Preparation,
    Progress,
)
from nas.model.combine._weightings import Equal
from nas.training._problem import Problem
from nas.training._supernet import FairSampler, Supernet, recalibrate
from nas.training._train import (
    DivergedError,
    TrainConfig,
    autocast_for,
    batches,
    cuda_setup,
    evaluate,
    optimizer_for,
    set_train_mode,
)
from search_spaces import SearchSpace

__all__ = ["SupernetEvaluator"]


@dataclass
class SupernetEvaluator(Evaluator):
    """Score candidates with weights inherited from one supernet trained as ``train`` says.

    ``train.epochs`` are the supernet's (each step: the independent layout and one sampled);
    ``train.seed`` seeds its weights, its sampled layouts and its batches.
    """

    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=12))
    recalibration_images: int = 1024  # training images re-estimating a candidate's batch norm

    @property
    def epochs(self) -> int:
        """The supernet's training epochs."""
        return self.train.epochs

    @property
    def seed(self) -> int:
        """The seed of the supernet's weights, sampled layouts and batches."""
        return self.train.seed

    def __post_init__(self) -> None:
        self.net: Supernet | None = None
        self.trained_epochs = 0  # epochs this process trained (0 when it loaded the supernet)

    def prepare(self, context: Preparation) -> str:
        """Load the study's trained supernet, or train it (resuming a saved epoch) and save it.

        Raises:
            UserError: the study's storage has no artifact store to keep the supernet in.
        """
        problem, space, keeper = context.problem, context.space, context.state
        if keeper is None:
            raise UserError(
                "evaluator 'supernet' keeps its supernet in the artifact store, and this "
                "storage has none: give --artifacts DIR"
            )
        self.progress = context.progress
        with torch.random.fork_rng(devices=[]):  # initial weights from the study's seed alone
            torch.manual_seed(self.seed)
            net = Supernet(
                problem.backbone, problem.heads, [t.name for t in problem.tasks],
                problem.benchmark.input_shape, space.pool(),
            )  # fmt: skip
        with keeper.hold():
            start = keeper.latest()
            if start is None or start["epoch"] < start["epochs"]:
                self.trained_epochs = self._train(net, problem, space, start, keeper.save)
            else:
                net.load_state_dict(start["model"])
        self.net = net.to(problem.device).eval()
        done = (
            "loaded"
            if self.trained_epochs == 0
            else f"trained {self.trained_epochs} of its {self.epochs} epochs here"
        )
        return f"supernet of study {context.study_name!r}: {done}; scoring layouts with it"

    def _train(
        self,
        net: Supernet,
        problem: Problem,
        space: SearchSpace,
        start: Checkpoint | None,
        save: Callable[[Checkpoint], None],
    ) -> int:
        device, train = problem.device, problem.train
        net.to(device)
        config = self.train
        weighting = Equal([t.name for t in problem.tasks]).to(device)
        steps = math.ceil(len(train) / config.batch_size)
        opt, sched = optimizer_for(net, config, (), steps)
        # As train(): fp16 scaling, NHWC on CUDA.
        scaler, nhwc = cuda_setup(net, device, len(train.input_shape) == 3, config)
        sampler, gen = FairSampler(space, self.seed), torch.Generator().manual_seed(self.seed)
        first = 1
        if start is not None:  # continue exactly where the last saved epoch ended
            net.load_state_dict(start["model"])
            opt.load_state_dict(start["optimizer"])
            sched.load_state_dict(start["scheduler"])
            sampler.restore(start["sampler"])
            gen.set_state(start["generator"])
            scaler.load_state_dict(start.get("scaler") or scaler.state_dict())
            first = start["epoch"] + 1
        independent = Layout.independent(space.tasks, space.depth)
        both = space.instance_rows(independent, {})
        bar = tqdm(
            range(first, self.epochs + 1), desc="supernet", unit="epoch", initial=first - 1,
            total=self.epochs, disable=not self.progress, leave=False,
        )  # fmt: skip
        set_train_mode(net, config)
        for epoch in bar:
            order = torch.randperm(len(train), generator=gen).to(train.plan_device)
            total = torch.zeros((), device=device)
            for x, targets in batches(train, order, config.batch_size, nhwc, epoch, self.seed):
                opt.zero_grad(set_to_none=True)
                # The sandwich: the independent layout trains every copy, then a fair sample.
                for rows in (both, sampler.draw()[1]):
                    with autocast_for(device, True):
                        out = net(x, rows)
                    losses = {
                        t.name: t.compute_loss(out[t.name], targets[t.name]) for t in problem.tasks
                    }
                    loss = weighting.combine(losses)
                    scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
                    total += loss.detach()
                scaler.step(opt)
                scaler.update()
                sched.step()
            mean = float(total) / (2 * steps)
            if not math.isfinite(mean):
                raise DivergedError(f"supernet training loss became {mean} in epoch {epoch}")
            bar.set_postfix(loss=f"{mean:.3f}")
            save(
                {
                    "epoch": epoch, "epochs": self.epochs, "model": _cpu(net.state_dict()),
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "sampler": sampler.state(), "generator": gen.get_state(),
                    "scaler": scaler.state_dict(),
                }
            )  # fmt: skip
        bar.close()
        return self.epochs - first + 1

    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: Progress | None = None
    ) -> Evaluation:
        """Inherit the candidate's weights, recalibrate its batch norm, score it on validation.

        Raises:
            RuntimeError: :meth:`prepare` was not called first.
        """
        if self.net is None:
            raise RuntimeError("the supernet evaluator scores nothing before prepare()")
        start = time.perf_counter()
        layout = candidate.layout
        rows = candidate.instances if candidate.instances is not None else layout.rows
        net = problem.build(layout)
        net.load_state_dict(self.net.state_for(layout, rows))
        net.to(problem.device)
        recalibrate(net, problem.train, self.recalibration_images, self.train.batch_size, self.seed)
        calibrated = time.perf_counter()
        metrics = evaluate(net, problem.val, problem.tasks)
        # No progress report: one score, nothing to prune (an epoch-0 report would be judged).
        return Evaluation(metrics, 0, calibrated - start, time.perf_counter() - calibrated)


def _cpu(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}
