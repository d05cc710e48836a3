"""One trial: suggest a Layout, build, train, evaluate, store its results and weights."""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
import time
from pathlib import Path

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from optuna.trial import TrialState
from tqdm.auto import tqdm

from nas.benchmark import Benchmark
from nas.config import SearchConfig
from nas.gate import TrialGate
from nas.layout import Layout
from nas.metrics import delta_mtl
from nas.network import build, cost
from nas.search import (
    BASELINE_KEY,
    FINISHED,
    BaselineNotReady,
    baseline_metrics,
)
from nas.train import DivergedError, Metrics, TrainResult, train
from search_spaces import SearchSpace
from search_spaces.training import suggest_loss_weighting

__all__ = ["Objective", "is_front"]


def is_front(values: list[float], others: list[list[float]], directions: list[str]) -> bool:
    """True unless another trial is at least as good everywhere and better somewhere."""
    sign = [1.0 if d == "maximize" else -1.0 for d in directions]
    me = [s * v for s, v in zip(sign, values, strict=True)]
    for other in others:
        them = [s * v for s, v in zip(sign, other, strict=True)]
        if all(t >= m for t, m in zip(them, me, strict=True)) and them != me:
            return False
    return True


class Objective:
    """Callable for ``study.optimize``: returns Δ_MTL, or (Δ_MTL, cost) when multi-objective."""

    def __init__(
        self,
        config: SearchConfig,
        bench: Benchmark,
        space: SearchSpace,
        device: torch.device,
        store: FileSystemArtifactStore,
        progress: bool = True,
    ) -> None:
        self.config, self.bench, self.space = config, bench, space
        self.device, self.store, self.progress = device, store, progress
        self.gate: TrialGate | None = None
        self.backbone = bench.default_backbone()
        self.heads = {t.name: t.head for t in bench.tasks}
        self.train_split = bench.train.to(device)  # resident for the whole search
        self.val_split = bench.val.to(device)
        self.directions = {t.name: t.higher_is_better for t in bench.tasks}

    def primary(self, metrics: Metrics) -> dict[str, float]:
        """Each task's primary metric."""
        return {t.name: metrics[t.name][t.primary] for t in self.bench.tasks}

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        """Run one trial; failures are recorded in the trial's ``fail_reason``."""
        if self.gate is not None:
            self.gate.release()  # this trial is RUNNING now: other workers may count it
        start = time.perf_counter()
        self._clock = TrainResult({}, 0, 0.0, 0.0)
        try:
            return self._run(trial)
        except optuna.TrialPruned:
            raise
        except Exception as err:  # recorded, then Optuna marks the trial FAILED
            reason = f"{type(err).__name__}: {err}".splitlines()[0][:500]
            trial.set_user_attr("fail_reason", reason)
            if isinstance(err, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
            if isinstance(err, BaselineNotReady):  # run this layout again after the baseline
                trial.study.enqueue_trial(trial.params, user_attrs=dict(trial.user_attrs))
            raise
        finally:
            # Kept for pruned and failed trials too: where the time went, per trial.
            trial.set_user_attr("wall_seconds", time.perf_counter() - start)
            trial.set_user_attr("train_seconds", self._clock.train_seconds)
            trial.set_user_attr("eval_seconds", self._clock.eval_seconds)
            trial.set_user_attr("epochs", self._clock.epochs)  # 0 when a result was reused

    def _layout(self, trial: optuna.Trial) -> tuple[Layout, str]:
        kind = trial.user_attrs.get("baseline")
        if kind is None:
            layout = self.space.suggest(trial)
        else:  # an enqueued baseline; it may lie outside the space (adashare, 1 instance)
            layout = Layout.from_dict(trial.user_attrs["layout"])
            if _reachable(self.space, layout):
                self.space.suggest(trial)  # records the enqueued parameters
        weighting = self.config.loss_weighting
        if weighting == "search":
            weighting = suggest_loss_weighting(trial)
        return layout, weighting

    def _run(self, trial: optuna.Trial) -> float | tuple[float, float]:
        layout, weighting = self._layout(trial)
        c = cost(layout, self.backbone, self.heads, self.bench.input_shape)
        for key, value in {
            "layout": layout.to_dict(),
            "summary": layout.summary(),
            "params": c.params,
            "flops": c.flops,
            "block_executions": c.block_executions,
            "device": str(self.device),
            "worker": f"{socket.gethostname()}:{os.getpid()}",
            "loss_weighting": weighting,
        }.items():
            trial.set_user_attr(key, value)
        earlier = self._same_as_earlier(trial, layout, weighting)
        if earlier is not None:
            return self._repeat(trial, earlier)
        torch.manual_seed(self.config.seed)
        net = build(layout, self.backbone, self.heads, self.bench.input_shape).to(self.device)
        is_baseline = trial.user_attrs.get("baseline") == "independent"
        metrics = self._train(trial, net, weighting, is_baseline)
        primary = self.primary(metrics)
        if is_baseline:
            trial.study.set_user_attr(
                BASELINE_KEY, json.dumps({"trial": trial.number, "metrics": primary})
            )
            baseline: dict[str, float] | None = primary
        else:
            baseline = baseline_metrics(trial.study, wait=True)
        if baseline is None:
            raise RuntimeError("no single-task baseline: the independent layout did not finish")
        delta = delta_mtl(primary, baseline, self.directions)
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("primary", primary)
        trial.set_user_attr("delta_mtl", delta)
        values: list[float] = [delta]
        if self.config.multi_objective:
            values.append(float(c.params if self.config.objectives.endswith("params") else c.flops))
        if not all(math.isfinite(v) for v in values):
            trial.set_user_attr("pruned_reason", "non-finite validation metrics")
            raise optuna.TrialPruned("non-finite validation metrics")
        if self._worth_keeping(trial, values):
            self._save_weights(trial, net)
        return values[0] if len(values) == 1 else (values[0], values[1])

    def _train(
        self, trial: optuna.Trial, net: torch.nn.Module, weighting: str, is_baseline: bool
    ) -> Metrics:
        baseline = None if is_baseline else baseline_metrics(trial.study, wait=False)
        bar = tqdm(
            total=self.config.epochs,
            desc=f"trial {trial.number}",
            unit="epoch",
            leave=False,
            disable=not self.progress,
        )

        def on_epoch(progress: TrainResult) -> None:
            nonlocal baseline
            self._clock = progress
            bar.update()
            if baseline is None and not is_baseline:
                baseline = baseline_metrics(trial.study, wait=False)
            if baseline is None:
                return
            epoch = progress.epochs
            delta = delta_mtl(self.primary(progress.metrics), baseline, self.directions)
            bar.set_postfix(delta=f"{100 * delta:+.2f}%")
            if self.config.multi_objective:
                return  # Optuna's report/should_prune are single-objective only
            trial.report(delta, epoch)
            # Stopping after the last epoch would save nothing and throw the result away.
            if epoch < self.config.epochs and trial.should_prune():
                trial.set_user_attr(
                    "pruned_reason", f"among the worst at epoch {epoch} ({self.config.pruner} rule)"
                )
                raise optuna.TrialPruned(f"Δ_MTL {100 * delta:+.2f}% at epoch {epoch}")

        try:
            result = train(
                net,
                self.train_split,
                self.val_split,
                self.bench.tasks,
                self.config.train_config(weighting),
                on_epoch,
            )
        except DivergedError as err:
            trial.set_user_attr("pruned_reason", str(err))
            raise optuna.TrialPruned(str(err)) from None
        finally:
            bar.close()
        return result.metrics

    def _same_as_earlier(
        self, trial: optuna.Trial, layout: Layout, weighting: str
    ) -> optuna.trial.FrozenTrial | None:
        # Samplers propose a layout again now and then; training is seeded, so the result
        # would be the same: reuse it instead of spending the budget twice.
        wanted = layout.to_dict()
        for t in trial.study.get_trials(deepcopy=False, states=FINISHED):
            attrs = t.user_attrs
            same = attrs.get("layout") == wanted and attrs.get("loss_weighting") == weighting
            if same and "duplicate_of" not in attrs and t.number != trial.number:
                return t
        return None

    def _repeat(
        self, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial
    ) -> float | tuple[float, float]:
        trial.set_user_attr("duplicate_of", earlier.number)
        if earlier.state == TrialState.PRUNED:
            trial.set_user_attr("pruned_reason", f"same layout as pruned trial {earlier.number}")
            raise optuna.TrialPruned(f"same layout as pruned trial {earlier.number}")
        for key in ("metrics", "primary", "delta_mtl", "weights"):
            if key in earlier.user_attrs:
                trial.set_user_attr(key, earlier.user_attrs[key])
        values = list(earlier.values)
        return values[0] if len(values) == 1 else (values[0], values[1])

    def _worth_keeping(self, trial: optuna.Trial, values: list[float]) -> bool:
        done = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        others = [list(t.values) for t in done if t.values is not None]
        directions = [d.name.lower() for d in trial.study.directions]
        return is_front(values, others, directions)

    def _save_weights(self, trial: optuna.Trial, net: torch.nn.Module) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"trial-{trial.number}.pt"
            torch.save({k: v.cpu() for k, v in net.state_dict().items()}, path)
            artifact_id = upload_artifact(
                artifact_store=self.store,
                file_path=str(path),
                study_or_trial=trial,
                mimetype="application/octet-stream",  # a torch state dict; ".pt" guesses wrong
            )
        trial.set_user_attr("weights", artifact_id)


def _reachable(space: SearchSpace, layout: Layout) -> bool:
    try:
        space.params(layout)
    except ValueError:
        return False
    return True
