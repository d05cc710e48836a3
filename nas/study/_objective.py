"""The Optuna objective: candidate in, record out.

It asks the search space for a candidate, lets the evaluator score it, turns the evaluator's
per-epoch progress into Optuna reports and pruning, and writes the trial's record. How a
layout is scored lives in :mod:`nas.explore.evaluators`; what is stored, in
:mod:`nas.study._store.record`.
"""

from __future__ import annotations

import math
import sys
import time

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
from tqdm.auto import tqdm

from nas.core._layout import Layout
from nas.data._metrics import delta_mtl, task_deltas
from nas.explore._config import SearchConfig
from nas.explore._objectives import feasible
from nas.explore.evaluators._base import Candidate, Evaluation, Evaluator
from nas.study._baseline import await_baseline, enqueue_baselines
from nas.study._latency import LatencyCache
from nas.study._store import record
from nas.study._store.record import FINISHED, StudyRecord
from nas.study._store.recording import recording
from nas.study._store.stale import fail_stale
from nas.study._store.takeover import run_claimed
from nas.study._store.weights import save_weights
from nas.training._problem import Problem
from nas.training._train import DivergedError
from search_spaces import SearchSpace

__all__ = ["Objective", "is_front"]


def is_front(values: list[float], others: list[list[float]], directions: list[str]) -> bool:
    """True unless another trial is at least as good everywhere and better somewhere.

    Example:
        >>> is_front([0.1, 5.0], [[0.2, 4.0]], ["maximize", "minimize"])
        False
        >>> is_front([0.1, 5.0], [[0.2, 6.0], [0.1, 5.0]], ["maximize", "minimize"])
        True
    """
    sign = [1.0 if d == "maximize" else -1.0 for d in directions]
    me = [s * v for s, v in zip(sign, values, strict=True)]
    for other in others:
        them = [s * v for s, v in zip(sign, other, strict=True)]
        if all(t >= m for t, m in zip(them, me, strict=True)) and them != me:
            return False
    return True


class Objective:
    """Callable for ``study.optimize``: returns Δ_MTL, or (Δ_MTL, cost) when multi-objective.

    The study is held here, not read from the trial, so an ``optuna.trial.FixedTrial`` can
    drive it (to score one layout by hand, or in tests).
    """

    def __init__(
        self,
        study: optuna.Study,
        config: SearchConfig,
        problem: Problem,
        space: SearchSpace,
        evaluator: Evaluator,
        store: FileSystemArtifactStore | None,
        progress: bool = True,
        poll: float = 2.0,
    ) -> None:
        self.record = StudyRecord(study)
        self.config, self.problem, self.space = config, problem, space
        self.objectives = config.judged_on()
        self.latency = None
        if self.objectives.uses_latency:  # measured once per layout, kept on the study
            independent = Layout.independent(space.tasks, space.depth)
            self.latency = LatencyCache(self.record, problem, independent)
        self.evaluator, self.store, self.progress = evaluator, store, progress
        self.poll = poll  # seconds between looks at the storage while waiting on another trial
        self._outer: set[int] = set()  # trials of this process waiting on the one run here

    def __call__(self, trial: optuna.trial.BaseTrial) -> float | tuple[float, float]:
        """Run one trial; failures are recorded in the trial's ``fail_reason``."""
        self._last = Evaluation({})
        try:
            with recording(trial, self.problem.device):
                return self._run(trial)
        finally:
            # Kept for pruned and failed trials too: where the time went, per trial.
            last = self._last
            record.write(
                trial,
                train_seconds=last.train_seconds,
                eval_seconds=last.eval_seconds,
                epochs=last.epochs,  # 0 when a result was reused
            )

    def candidate(self, trial: optuna.trial.BaseTrial) -> Candidate:
        """The trial's layout and loss weighting, suggested by the space (or enqueued)."""
        kind = trial.user_attrs.get("baseline")
        if kind is None:
            layout = self.space.suggest(trial)
        else:  # an enqueued baseline; it may lie outside the space (adashare, 1 instance)
            layout = Layout.from_dict(trial.user_attrs["layout"])
            if self.space.reaches(layout):
                self.space.suggest(trial)  # records the enqueued parameters
        weighting = self.space.suggest_loss_weighting(trial, self.config.loss_weighting)
        instances = self.space.instance_rows(layout, trial.params)
        return Candidate(layout, weighting, self.config.seed, instances=instances)

    def _run(self, trial: optuna.trial.BaseTrial) -> float | tuple[float, float]:
        candidate = self.candidate(trial)
        layout = candidate.layout
        c = self.problem.cost(layout)
        record.write(
            trial,
            layout=layout.to_dict(),
            summary=layout.summary(),
            params=c.params,
            flops=c.flops,
            block_executions=c.block_executions,
            loss_weighting=candidate.loss_weighting,
        )
        latency = None if self.latency is None else self.latency.get(layout).ratio
        if latency is not None:
            record.write(trial, latency=latency)
        # Feasibility is known from the layout alone: stored first, so samplers learn the
        # feasible region from every trial, finished or not.
        constraints = self.objectives.constraints(c, latency)
        for key, value in constraints.items():
            trial.set_constraint(key, value)
        within = all(v <= 0 for v in constraints.values())
        earlier = self._same_as_earlier(trial, candidate)
        if earlier is not None:
            return self._repeat(trial, earlier)
        is_baseline = trial.user_attrs.get("baseline") == "independent"
        if not is_baseline:
            self._baseline(trial, block=False)  # nobody trains it? then train it here, first
        evaluation = self._evaluate(trial, candidate, is_baseline)
        primary = self.problem.primary(evaluation.metrics)
        if is_baseline:
            self.record.set_baseline(trial.number, primary)
            baseline: dict[str, float] | None = primary
        else:
            baseline = self._baseline(trial, block=True)
        assert baseline is not None  # await_baseline blocks or raises
        terms = task_deltas(primary, baseline, self.problem.higher_is_better)
        delta = delta_mtl(primary, baseline, self.problem.higher_is_better)
        beaten = self.problem.beaten(primary)
        record.write(
            trial,
            metrics=evaluation.metrics,
            primary=primary,
            delta_mtl=delta,
            task_deltas=terms,  # each task's term: what the per-task structure model learns from
            beat_trivial=beaten,
        )
        if is_baseline:
            self._warn_unlearned(primary, beaten)
        values = self.objectives.values(delta, c, latency)
        if not all(math.isfinite(v) for v in values):
            record.write(trial, pruned_reason="non-finite validation metrics")
            raise optuna.TrialPruned("non-finite validation metrics")
        if evaluation.network is not None and self._worth_keeping(values, within):
            self._keep(trial, evaluation.network)
        return values[0] if len(values) == 1 else (values[0], values[1])

    def _warn_unlearned(self, primary: dict[str, float], beaten: dict[str, bool]) -> None:
        # Said before any search budget is spent: a task its own network cannot learn adds
        # the same to every trial's Δ_MTL, and the search optimises the other tasks only.
        for task in self.problem.tasks:
            if not beaten.get(task.name, True):
                tqdm.write(
                    f"warning: task {task.name!r}: the independent baseline scored "
                    f"{task.primary} {primary[task.name]:.4f}, no better than a trivial "
                    f"predictor ({self.problem.trivial[task.name]:.4f}); the search will "
                    "optimise the other tasks only: check its loss, weights or epochs",
                    file=sys.stderr,
                )

    def _baseline(self, trial: optuna.trial.BaseTrial, block: bool) -> dict[str, float] | None:
        study = self.record.study

        def take_over(frozen: optuna.trial.FrozenTrial) -> None:
            inner = Objective(
                study, self.config, self.problem, self.space, self.evaluator, self.store,
                self.progress, self.poll,
            )  # fmt: skip
            inner._outer = {*self._outer, trial.number}
            run_claimed(study, frozen, inner)

        def queue_again() -> None:
            enqueue_baselines(study, self.space, self.config, lost_only=True)

        return await_baseline(self.record, take_over, queue_again, block, self.poll)

    def _evaluate(
        self, trial: optuna.trial.BaseTrial, candidate: Candidate, is_baseline: bool
    ) -> Evaluation:
        baseline = None if is_baseline else self.record.baseline()
        epochs = self.config.epochs
        bar = tqdm(
            total=epochs, desc=f"trial {trial.number}", unit="epoch", leave=False,
            disable=not self.progress,
        )  # fmt: skip

        def progress(evaluation: Evaluation) -> None:
            nonlocal baseline
            self._last = evaluation
            bar.n = evaluation.epochs  # early epochs may go unscored: jump, not step
            bar.refresh()
            if baseline is None and not is_baseline:
                baseline = self.record.baseline()
            if baseline is None:
                return
            epoch = evaluation.epochs
            primary = self.problem.primary(evaluation.metrics)
            delta = delta_mtl(primary, baseline, self.problem.higher_is_better)
            bar.set_postfix(delta=f"{100 * delta:+.2f}%")
            if self.objectives.multi:
                return  # Optuna's report/should_prune are single-objective only
            trial.report(delta, epoch)
            # Stopping after the last epoch would save nothing and throw the result away.
            if epoch < epochs and trial.should_prune():
                reason = f"among the worst at epoch {epoch} ({self.config.pruner} rule)"
                record.write(trial, pruned_reason=reason)
                raise optuna.TrialPruned(f"Δ_MTL {100 * delta:+.2f}% at epoch {epoch}")

        try:
            evaluation = self.evaluator.evaluate(self.problem, candidate, progress)
        except DivergedError as err:
            record.write(trial, pruned_reason=str(err))
            raise optuna.TrialPruned(str(err)) from None
        finally:
            bar.close()
        self._last = evaluation
        return evaluation

    def _same_as_earlier(
        self, trial: optuna.trial.BaseTrial, candidate: Candidate
    ) -> optuna.trial.FrozenTrial | None:
        # Samplers propose a layout again now and then; training is seeded, so the result
        # would be the same: reuse it instead of spending the budget twice. A twin that an
        # older trial is training elsewhere right now is waited for, not trained again.
        wanted = candidate.layout.to_dict()
        study = self.record.study
        while True:
            twins = []
            for t in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
                r = record.TrialRecord.of(t)
                same = r.layout == wanted and r.loss_weighting == candidate.loss_weighting
                if not same or r.duplicate_of is not None or t.number == trial.number:
                    continue
                if t.state != TrialState.RUNNING:
                    return t
                if t.number < trial.number and t.number not in self._outer:
                    twins.append(t)
            if not twins or not isinstance(trial, optuna.Trial):
                return None
            fail_stale(study)  # a dead twin fails; then train it here
            time.sleep(self.poll)

    def _repeat(
        self, trial: optuna.trial.BaseTrial, earlier: optuna.trial.FrozenTrial
    ) -> float | tuple[float, float]:
        record.write(trial, duplicate_of=earlier.number)
        if earlier.state == TrialState.PRUNED:
            reason = f"same layout as pruned trial {earlier.number}"
            record.write(trial, pruned_reason=reason)
            raise optuna.TrialPruned(reason)
        r = record.TrialRecord.of(earlier)
        record.write(trial, metrics=r.metrics, primary=r.primary, delta_mtl=r.delta_mtl)
        if r.weights is not None:
            record.write(trial, weights=r.weights, weights_sha256=r.weights_sha256)
        values = list(earlier.values)
        return values[0] if len(values) == 1 else (values[0], values[1])

    def _worth_keeping(self, values: list[float], within: bool) -> bool:
        if not within:
            return False  # over its budget: never the answer, so never exported
        study = self.record.study
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        others = [list(t.values) for t in done if t.values is not None and feasible(t)]
        directions = [d.name.lower() for d in study.directions]
        return is_front(values, others, directions)

    def _keep(self, trial: optuna.trial.BaseTrial, net: torch.nn.Module) -> None:
        if self.store is None or not isinstance(trial, optuna.Trial):
            return  # a FixedTrial has no storage to attach an artifact to
        artifact, sha256 = save_weights(self.store, trial, net)
        record.write(trial, weights=artifact, weights_sha256=sha256)
