"""Training choices that can be part of the search (kept here: only search spaces suggest)."""

from __future__ import annotations

import optuna

__all__ = ["LOSS_WEIGHTINGS", "suggest_loss_weighting"]

LOSS_WEIGHTINGS = ("equal", "uncertainty")


def suggest_loss_weighting(trial: optuna.trial.BaseTrial) -> str:
    """Equal task weights or learned uncertainty weighting (Kendall et al. 2018)."""
    return str(trial.suggest_categorical("loss_weighting", list(LOSS_WEIGHTINGS)))
