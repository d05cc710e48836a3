"""Export a stored trial's network to ONNX, checked and verified before anything is written.

The exported graph is the executor's own: only blocks some task uses, each shared path prefix
computed once, one named output per task, a dynamic batch dimension. Its metadata carries the
Layout, the tasks and what each output means, the trial's metrics, and where it came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx
import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState

import nas
from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.data._tasks import Task
from nas.model._network import TaskNetwork
from nas.runtime._onnx import to_fp16, to_onnx, verify
from nas.study import ConfirmedResult, StudyRecord, TrialRecord, is_internal, study_config
from nas.study._store.record import CONFIRM_SUFFIX, CONFIRMED_KEY
from nas.study._store.weights import CorruptWeights, load_weights
from nas.training._problem import network_from_description

__all__ = [
    "ExportError",
    "ExportReport",
    "export_trial",
    "load_trial_network",
]


class ExportError(UserError, ValueError):
    """The trial cannot be exported; the message says why and what to do."""


@dataclass(frozen=True)
class ExportReport:
    """What was written and how closely onnxruntime matches PyTorch."""

    path: Path
    trial: int
    max_abs_diff: dict[int, float]  # batch size -> max over tasks
    tolerance: float
    provider: str


def load_trial_network(
    study: optuna.Study, trial: FrozenTrial, store: FileSystemArtifactStore
) -> tuple[TaskNetwork, list[Task]]:
    """Rebuild a trial's network and load its stored weights (eval mode, CPU)."""
    record = TrialRecord.of(trial)
    what, fix = _what_and_fix(study, trial)
    if trial.state != TrialState.COMPLETE or record.weights is None or record.layout is None:
        raise ExportError(
            f"{what} ({trial.state.name}) has no stored weights: only trials that "
            "were the best or on the Pareto front when they finished keep them; "
            f"see mtlnas show {study.study_name.removesuffix(CONFIRM_SUFFIX)}"
        )
    model = StudyRecord(study).model()
    if model is None:
        raise ExportError(
            f"study {study.study_name!r} has no model description; it was not made by mtl-nas"
        )
    net, tasks = network_from_description(model, Layout.from_dict(record.layout))
    try:
        state = load_weights(store, record.weights, record.weights_sha256)
    except FileNotFoundError as err:
        raise ExportError(
            f"weights of {what}: {err}; pass --artifacts DIR if they live elsewhere, or {fix}"
        ) from None
    except CorruptWeights as err:
        raise ExportError(f"{what}: {err}; {fix}") from None
    try:
        net.load_state_dict(state)
    except RuntimeError:
        raise ExportError(
            f"{what}: weights file {record.weights} does not fit its layout "
            f"(another trial's file?); {fix}"
        ) from None
    return net.eval(), tasks


def _what_and_fix(study: optuna.Study, trial: FrozenTrial) -> tuple[str, str]:
    # A confirm run is named as one, with the command that retrains exactly it; a search
    # trial cannot be retrained alone: its weights come back from a backup only.
    name = study.study_name
    if is_internal(name):
        search = shlex.quote(name.removesuffix(CONFIRM_SUFFIX))
        return (
            f"confirm run {trial.number} (study {name!r})",
            f"retrain it with: mtlnas confirm {search} --retrain",
        )
    return (
        f"search trial {trial.number}",
        "restore the artifact folder from a backup, or export the confirmed winner "
        f"instead (mtlnas confirm {shlex.quote(name)}, then export without --trial)",
    )


def _metadata(
    study: optuna.Study, trial: FrozenTrial, net: TaskNetwork, tasks: list[Task]
) -> dict[str, str]:
    # The file describes the study's answer: the search study, and where its weights come
    # from. A confirm run's own validation figure is against the search's seed-0 baseline, not
    # its own seed's, so a confirmed row carries its test figures (mtlnas.confirmed) instead.
    record = TrialRecord.of(trial)
    search = study.study_name.removesuffix(CONFIRM_SUFFIX)
    weights: dict[str, object] = {"study": study.study_name, "trial": trial.number}
    about: dict[str, str] = {}
    if is_internal(study.study_name):
        weights |= {"role": record.role, "finalist": record.finalist, "seed": record.seed}
    else:
        about = {
            "mtlnas.trial": str(trial.number),
            "mtlnas.val_metrics": json.dumps(record.metrics or {}),
            "mtlnas.val_delta_mtl": json.dumps(record.delta_mtl),
        }
    return {
        "mtlnas.version": nas.__version__,
        "mtlnas.study": search,
        "mtlnas.weights": json.dumps(weights),
        **about,
        "mtlnas.config": study_config(study).to_json(),
        "mtlnas.layout": net.layout.to_json(),
        "mtlnas.input": json.dumps(_input_facts(net)),
        "mtlnas.tasks": json.dumps(
            [
                {**dataclasses.asdict(t), "output": t.name, "meaning": t.output_meaning}
                for t in tasks
            ]
        ),
        "mtlnas.confirmed": json.dumps(_confirmed_facts(study, trial)),
    }


def _input_facts(net: TaskNetwork) -> dict[str, object]:
    facts: dict[str, object] = {
        "name": "input",
        "shape": ["batch", *net.input_shape],
        "dtype": "float32",
    }
    mean, std = getattr(net.stem, "mean", None), getattr(net.stem, "std", None)
    if isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor):
        # The graph normalises its input itself: feed images as the benchmark gave them.
        facts["normalised_inside"] = {
            "mean": mean.flatten().tolist(),
            "std": std.flatten().tolist(),
        }
    return facts


def _confirmed_facts(study: optuna.Study, trial: FrozenTrial) -> dict[str, object] | None:
    # For a confirm run of the winner: its seed, its test metrics and the confirmed summary.
    raw = StudyRecord(study).get(CONFIRMED_KEY)
    record = TrialRecord.of(trial)
    if raw is None or record.finalist is None:
        return None
    result = ConfirmedResult.from_dict(raw)
    row, seeds = result.rows[record.finalist], result.seeds
    if row.test_deltas is None or row.test_primary_runs is None or record.seed not in seeds:
        return {"seed": record.seed, "role": record.role, "tested": False}
    k = seeds.index(record.seed)
    over = row.test_delta
    assert over is not None
    return {
        "seed": record.seed,
        "role": record.role,
        "split": "test",
        "test_primary": row.test_primary_runs[k],
        "test_delta_mtl": row.test_deltas[k],
        "test_delta_mtl_over_seeds": over.to_dict(),
        "seeds": seeds,
        "params": row.params,
        "flops_per_sample": row.flops,
        "cost_vs_independent": result.cost_words(row) or None,
        "latency_ms": row.latency_ms,
        "latency_device": result.latency_device,
    }


def export_trial(
    study: optuna.Study,
    trial: FrozenTrial,
    store: FileSystemArtifactStore,
    out: Path,
    fp16: bool = False,
) -> ExportReport:
    """Export ``trial``'s network to ``out``; writes nothing unless checks and parity pass.

    Raises:
        ExportError: no weights, an unwritable path, a failed check, or a parity mismatch.
    """
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"output {out} is a folder; give a file name such as model.onnx")
    if not out.parent.is_dir():
        raise ExportError(f"cannot write {out}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ExportError(f"cannot write {out}: permission denied")
    net, tasks = load_trial_network(study, trial, store)
    model = to_onnx(net)
    if fp16:
        model = to_fp16(model)
    onnx.helper.set_model_props(model, _metadata(study, trial, net, tasks))
    onnx.checker.check_model(model, full_check=True)
    diffs, provider, tol = verify(model, net, fp16)
    if max(diffs.values()) > tol:
        raise ExportError(
            f"onnxruntime differs from PyTorch by {max(diffs.values()):.3g} "
            f"(tolerance {tol:g}); nothing was written"
        )
    # Write beside the target, then rename: a reader never sees half a file.
    # A full disk or a Ctrl-C removes the temporary file: it never stays to fill the disk.
    tmp = tempfile.NamedTemporaryFile(dir=out.parent, suffix=".onnx.tmp", delete=False)  # noqa: SIM115
    try:
        with tmp:
            tmp.write(model.SerializeToString())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp.name, 0o666 & ~umask)  # temporary files are private; the model need not be
        os.replace(tmp.name, out)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    return ExportReport(out, trial.number, diffs, tol, provider)
