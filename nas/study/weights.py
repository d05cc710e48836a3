"""Network weights in Optuna's artifact store: saved once, loaded for export without retraining."""

from __future__ import annotations

import tempfile
from pathlib import Path

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact

__all__ = ["load_weights", "save_weights"]


def save_weights(store: FileSystemArtifactStore, trial: optuna.Trial, net: torch.nn.Module) -> str:
    """Upload ``net``'s state dict (on the CPU) as an artifact of ``trial``; its id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trial-{trial.number}.pt"
        torch.save({k: v.cpu() for k, v in net.state_dict().items()}, path)
        return upload_artifact(
            artifact_store=store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/octet-stream",  # a torch state dict; ".pt" guesses wrong
        )


def load_weights(store: FileSystemArtifactStore, artifact_id: str) -> dict[str, torch.Tensor]:
    """Download a stored state dict (to the CPU).

    Raises:
        FileNotFoundError: the artifact is not in ``store``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.pt"
        try:
            download_artifact(artifact_store=store, file_path=str(path), artifact_id=artifact_id)
        except Exception as err:
            raise FileNotFoundError(
                f"weights {artifact_id} not in the artifact store ({err})"
            ) from None
        state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state
