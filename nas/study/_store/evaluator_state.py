"""Where a study keeps its evaluator's state (a supernet): checkpoints in the artifact store.

Each epoch's checkpoint (weights, optimizer, schedule, sampler and batch-order state) is written
through the atomic artifact store and then named, with its SHA-256, in the study's attributes;
the previous file is removed only after that, so a kill at any point leaves the last complete
checkpoint in place. Training is held under a study lock of its own: the first worker trains,
the others wait and load; a killed trainer's lock is freed by its death (flock, or its database
connection closing), and the next worker resumes from the saved epoch.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from nas.core._errors import UserError
from nas.study._store.gate import TrialGate
from nas.study._store.record import StudyRecord
from nas.study._store.weights import CorruptWeights, _sha256, load_weights

__all__ = ["STATE_KEY", "STRATEGY_STATE_KEY", "StateLost", "StudyState", "WARM_STATE_KEY"]

_log = logging.getLogger(__name__)

# {"artifact", "sha256", "epoch", "epochs"} of the last checkpoint; the name is the one studies
# stored before the state was the evaluator's in general (the supernet was the only one).
STATE_KEY = "mtlnas_supernet"
STRATEGY_STATE_KEY = "mtlnas_strategy_state"  # the same for a strategy's learned state
WARM_STATE_KEY = "mtlnas_warm_start_state"  # and for the warm-start strategy's


class StateLost(UserError, RuntimeError):
    """The study's evaluator checkpoint is missing or damaged."""


class StudyState:
    """The :class:`~nas.explore.evaluators.StateKeeper` of one study's evaluator.

    ``label`` names the state in messages (the evaluator's name, e.g. ``supernet``).
    """

    def __init__(
        self,
        study: optuna.Study,
        store: FileSystemArtifactStore,
        storage_url: str | None,
        retrain: bool = False,
        label: str = "evaluator",
        key: str = STATE_KEY,
        purpose: str = "supernet",
    ) -> None:
        self.study, self.store, self.url, self.label = study, store, storage_url, label
        # Where the checkpoint is named and which lock guards it: a strategy's state (a learned
        # policy) keeps its own, beside the evaluator's.
        self.key, self.purpose = key, purpose
        self.retrain = retrain  # a lost checkpoint is trained again from scratch
        self.record = StudyRecord(study)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the study's state lock (a no-op for storages without locks)."""
        if self.url is None:
            yield
            return
        with TrialGate(self.url, self.study.study_name, purpose=self.purpose):  # v1: "supernet"
            yield  # released, and its file or server connection freed, however this ends

    def entry(self) -> dict[str, Any] | None:
        """What the study says about its last checkpoint (no weights)."""
        entry: dict[str, Any] | None = self.record.get(self.key)
        return entry

    def latest(self) -> dict[str, Any] | None:
        """The last saved checkpoint, checked against its SHA-256; None before the first epoch.

        With ``retrain``, a missing or damaged checkpoint is forgotten (None: train anew).

        Raises:
            StateLost: the file is missing, damaged or not the one saved.
        """
        entry = self.entry()
        if entry is None:
            return None
        try:
            return load_weights(self.store, entry["artifact"], entry["sha256"])
        except (FileNotFoundError, CorruptWeights) as err:
            name = shlex.quote(self.study.study_name)
            unit, at, _ = _progress(entry)
            what = f"the {self.label} checkpoint of study {name} ({unit} {at})"
            if not self.retrain:
                raise StateLost(
                    f"{what} cannot be loaded ({err}); restore the artifact folder (or pass "
                    f"--artifacts DIR), or train the {self.label} again: mtlnas resume {name} "
                    "--retrain"
                ) from None
            _log.info(f"{what} cannot be loaded; training the {self.label} again from scratch")
            self.record.set(self.key, None)
            return None

    def save(self, checkpoint: dict[str, Any]) -> None:
        """Store ``checkpoint`` and name it the latest; then drop the one it replaces."""
        old = self.entry()
        with tempfile.TemporaryDirectory() as tmp:
            unit, at, total = _progress(checkpoint)
            path = Path(tmp) / f"{self.label}-{unit}{at}.pt"
            torch.save(checkpoint, path)
            artifact = upload_artifact(
                artifact_store=self.store, file_path=str(path), study_or_trial=self.study,
                mimetype="application/octet-stream",
            )  # fmt: skip
            digest = _sha256(path)
        entry: dict[str, Any] = {"artifact": artifact, "sha256": digest}
        entry |= {unit: at, f"{unit}s": total}
        self.record.set(self.key, entry)
        if old is not None:  # the new one is named: the old file is no longer needed
            with contextlib.suppress(Exception):  # a file left behind costs disk only
                self.store.remove(old["artifact"])


def _progress(checkpoint: dict[str, Any]) -> tuple[str, int, int]:
    """("epoch" or "iteration", how far, of how many): supernets count epochs, policies steps."""
    unit = "epoch" if "epoch" in checkpoint else "iteration"
    return unit, int(checkpoint[unit]), int(checkpoint[f"{unit}s"])
