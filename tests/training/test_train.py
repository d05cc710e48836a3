"""The trainer's combination methods reach the trials, and the search over them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.app.cli import main


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["uncertainty", "search", "search:equal,pcgrad,dwa"])
def test_loss_weighting_reaches_the_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weighting: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "w", "--benchmark", "digits", "--size", "tiny", "--epochs", "1"]
    args += [
        "--n-trials",
        "4",
        "--device",
        "cpu",
        "--quiet",
        "--no-confirm",
        "--combine" if weighting.startswith("search:") else "--loss-weighting",
        weighting,
    ]
    assert main(args) == 0
    study = optuna.load_study(study_name="w", storage="sqlite:///studies.db")
    used = [t.user_attrs["loss_weighting"] for t in study.trials]
    if weighting == "uncertainty":
        assert used == ["uncertainty"] * 4
    else:  # a parameter of the search; the baselines train with equal weights
        assert used[:2] == ["equal", "equal"]
        assert all(t.params["loss_weighting"] == u for t, u in zip(study.trials, used, strict=True))
        assert set(used) <= (
            {"equal", "uncertainty"} if weighting == "search" else {"equal", "pcgrad", "dwa"}
        )
