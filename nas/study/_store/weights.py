"""Network weights in Optuna's artifact store: saved once, loaded for export without retraining.

Weights are written to a temporary name and renamed into place, so a full disk or a kill never
leaves half a file under an artifact's name; each file's SHA-256 is kept in the trial's record,
so a truncated, emptied or swapped file is refused by name at export instead of loaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact

from nas.core._errors import UserError

__all__ = ["AtomicFileStore", "CorruptWeights", "load_weights", "save_weights"]


class CorruptWeights(UserError, ValueError):
    """A stored weights file is truncated, empty, or not the one the trial saved."""


class AtomicFileStore(FileSystemArtifactStore):
    """Optuna's file-system artifact store, writing through a temporary file and a rename."""

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        """Store ``content_body`` under ``artifact_id``; on any error nothing is left behind."""
        final = self._get_filepath(artifact_id)
        tmp = final.with_name(final.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                shutil.copyfileobj(content_body, f)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(
    store: FileSystemArtifactStore, trial: optuna.Trial, net: torch.nn.Module
) -> tuple[str, str]:
    """Upload ``net``'s state dict (on the CPU) as an artifact of ``trial``.

    Returns:
        The artifact id and the file's SHA-256.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial-{trial.number}.pt"
        torch.save({k: v.cpu() for k, v in net.state_dict().items()}, path)
        artifact = upload_artifact(
            artifact_store=store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/octet-stream",  # a torch state dict; ".pt" guesses wrong
        )
        return artifact, _sha256(path)


def load_weights(
    store: FileSystemArtifactStore, artifact_id: str, sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """Download a stored state dict (to the CPU), checked against ``sha256`` when known.

    Raises:
        FileNotFoundError: the artifact is not in ``store``.
        CorruptWeights: the file does not match its checksum or is not a state dict.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.pt"
        try:
            download_artifact(artifact_store=store, file_path=str(path), artifact_id=artifact_id)
        except Exception as err:
            raise FileNotFoundError(
                f"weights {artifact_id} not in the artifact store ({err})"
            ) from None
        if sha256 is not None and _sha256(path) != sha256:
            size = path.stat().st_size
            raise CorruptWeights(
                f"weights file {artifact_id} ({size} bytes) is not the file that was saved "
                "(checksum differs: truncated, emptied or replaced)"
            )
        try:
            state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for a damaged archive
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CorruptWeights(f"weights file {artifact_id} is damaged ({first})") from None
    if not isinstance(state, dict):
        raise CorruptWeights(f"weights file {artifact_id} holds no state dict")
    return state
