"""The loop that runs trials until a study reaches its target, alone or beside other workers."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
from tqdm.auto import tqdm

from nas.benchmark import Benchmark
from nas.config import SearchConfig
from nas.gate import TrialGate
from nas.objective import Objective
from nas.search import FINISHED, MODEL_KEY, finished
from search_spaces import SearchSpace

__all__ = ["SearchStalled", "model_description", "run_search", "trial_summary"]

MAX_FAILURES_IN_A_ROW = 3


class SearchStalled(RuntimeError):
    """Trials keep failing: the study makes no progress."""


def model_description(bench: Benchmark) -> dict[str, Any]:
    """Backbone, tasks and input shape: enough to rebuild a trial's network without the data."""
    return {
        "benchmark": bench.name,
        "input_shape": list(bench.input_shape),
        "backbone": bench.default_backbone().to_dict(),
        "tasks": [dataclasses.asdict(t) for t in bench.tasks],
    }


def run_search(
    study: optuna.Study,
    config: SearchConfig,
    bench: Benchmark,
    space: SearchSpace,
    device: torch.device,
    store: FileSystemArtifactStore,
    progress: bool = True,
    storage_url: str | None = None,
    poll: float = 2.0,
) -> None:
    """Run trials until ``config.n_trials`` trials are finished (complete or pruned).

    Any number of processes may run this on one study: ``storage_url`` names the database so
    that they agree, through :class:`~nas.gate.TrialGate`, on who starts the remaining trials.

    Raises:
        SearchStalled: several trials in a row failed, so more would fail too.
    """
    if MODEL_KEY not in study.user_attrs:  # what export needs to rebuild any trial's network
        study.set_user_attr(MODEL_KEY, json.dumps(model_description(bench)))
    objective = Objective(config, bench, space, device, store, progress)
    bar = tqdm(
        total=config.n_trials,
        initial=min(finished(study), config.n_trials),
        desc=study.study_name,
        unit="trial",
        disable=not progress,
    )

    last: list[TrialState] = []

    def update(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        last[:] = [trial.state]
        bar.n = min(finished(study), config.n_trials)
        if not config.multi_objective:
            best = _best_delta(study)
            if best is not None:
                bar.set_postfix(best=f"{100 * best:+.2f}%")
        bar.refresh()

    gate = TrialGate(storage_url, study.study_name) if storage_url else None
    objective.gate = gate
    failed_in_a_row = 0
    try:
        while True:
            if gate is not None:
                gate.acquire()
            # One read for both counts: with two, a trial finishing in between would be in
            # neither, and this worker would start one trial too many.
            states = [t.state for t in study.get_trials(deepcopy=False)]
            done = sum(s in FINISHED for s in states)
            if done >= config.n_trials:
                break
            if done + states.count(TrialState.RUNNING) >= config.n_trials:
                # Other workers' trials may reach the target: wait, and take over the work
                # of any that dies (its stale trial is failed here and its layout queued).
                if gate is not None:
                    gate.release()
                optuna.storages.fail_stale_trials(study)
                time.sleep(poll)
                continue
            last.clear()
            study.optimize(
                objective,
                n_trials=1,
                callbacks=[update],
                catch=(Exception,),  # a failing trial fails alone; its reason is stored
                gc_after_trial=False,
            )
            failed_in_a_row = failed_in_a_row + 1 if last == [TrialState.FAIL] else 0
            if failed_in_a_row >= MAX_FAILURES_IN_A_ROW:
                raise SearchStalled(
                    f"study {study.study_name!r}: {failed_in_a_row} trials in a row failed; "
                    "see the reasons with mtlnas show"
                )
    finally:
        if gate is not None:
            gate.close()
        bar.close()


def _best_delta(study: optuna.Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:
        return None


def trial_summary(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The stored facts of one trial, for listings."""
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name,
        "layout": attrs.get("summary", ""),
        "primary": attrs.get("primary", {}),
        "delta_mtl": attrs.get("delta_mtl"),
        "params": attrs.get("params"),
        "flops": attrs.get("flops"),
        "reason": attrs.get("pruned_reason") or attrs.get("fail_reason") or "",
        "baseline": attrs.get("baseline", ""),
    }
