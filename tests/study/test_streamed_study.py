"""Whole studies on streamed splits give what the same studies give on resident ones.

Every reader of data (training, the label statistics, AdaShare's policy iterations, the
supernet and its recalibration, affinity's probe images, the confirm stage's test split) goes
through the same sources, so forcing ``MTLNAS_DATA=streamed`` must change no stored number.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.app.cli import main
from tests import SMALL_CONFIRM

TINY = ["--benchmark", "scenes", "--size", "tiny", "--device", "cpu", "--quiet", "--epochs", "1"]


def _values(url: str, name: str) -> list[tuple[str, tuple[float, ...] | None]]:
    study = optuna.load_study(study_name=name, storage=url)  # the confirm stage's runs too
    return [(t.state.name, None if t.values is None else tuple(t.values)) for t in study.trials]


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        ["--space", "adashare", "--strategy", "adashare", "--strategy-option", "iterations=6",
         "--strategy-option", "samples=2", "--n-trials", "3", *SMALL_CONFIRM],
        ["--evaluator", "supernet", "--supernet-epochs", "1", "--n-trials", "3", "--no-confirm"],
        ["--strategy", "affinity", "--n-trials", "3", "--no-confirm"],
    ],
    ids=["adashare", "supernet", "affinity"],
)  # fmt: skip
def test_a_streamed_study_stores_what_a_resident_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MTLNAS_WORKERS", "1")  # a real loader process, kept across trials
    found = {}
    for mode in ("resident", "streamed"):
        monkeypatch.setenv("MTLNAS_DATA", mode)
        url = f"sqlite:///{tmp_path / mode}.db"
        assert main(["search", "--name", "s", *TINY, *options, "--storage", url]) == 0
        found[mode] = (
            _values(url, "s"),
            _values(url, "s:confirm") if SMALL_CONFIRM[0] in options else [],
        )
    assert found["resident"] == found["streamed"]
    states = [state for state, _ in found["streamed"][0]]
    assert "FAIL" not in states and "COMPLETE" in states
    if SMALL_CONFIRM[0] in options:  # the confirm stage read the test split streamed, too
        assert [s for s, _ in found["streamed"][1]].count("COMPLETE") >= 4
