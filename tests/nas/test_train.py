"""The trainer's loss weightings, and the search over them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch

from nas.cli import main
from nas.train import LossWeighting


def test_equal_weighting_is_the_sum() -> None:
    w = LossWeighting(["a", "b"], "equal")
    losses = {"a": torch.tensor(2.0), "b": torch.tensor(3.0)}
    assert float(w(losses)) == 5.0
    assert not any(p.requires_grad for p in w.parameters())


def test_uncertainty_weighting_is_kendalls_form_and_learns() -> None:
    w = LossWeighting(["a", "b"], "uncertainty")
    with torch.no_grad():
        w.log_vars.copy_(torch.tensor([0.5, -1.0]))
    losses = {"a": torch.tensor(2.0), "b": torch.tensor(3.0)}
    expected = torch.exp(torch.tensor(-0.5)) * 2 + 0.5 + torch.exp(torch.tensor(1.0)) * 3 - 1.0
    total = w(losses)
    assert total.detach().item() == pytest.approx(float(expected))
    total.backward()
    # d/ds (exp(-s) L + s) = 1 - exp(-s) L
    grad = w.log_vars.grad
    assert grad is not None
    assert grad.tolist() == pytest.approx(
        [1 - 2 * torch.exp(torch.tensor(-0.5)).item(), 1 - 3 * torch.exp(torch.tensor(1.0)).item()]
    )


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["uncertainty", "search"])
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
        "--loss-weighting",
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
        assert set(used) <= {"equal", "uncertainty"}
