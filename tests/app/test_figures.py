"""The figures say only what they draw, and their labels stay inside their own panels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from nas.app._plots import figures, result_figure
from nas.core import Layout
from nas.study import ConfirmedResult, ConfirmedRow
from nas.study._outcome.confirmed import TaskInfo
from nas.study._outcome.stats import summarize

_LAYOUT = Layout.independent(["a", "b"], 2)  # what the rows say they retrained


def _row(finalist: int, role: str, source: int, test: list[float] | None) -> ConfirmedRow:
    val = [0.0, 0.01]
    return ConfirmedRow(
        finalist, role, f"layout {finalist}", _LAYOUT, "equal", source, None, val, summarize(val),
        {0: finalist, 1: 4 + finalist}, test,
        None if test is None else [{"a": 0.9, "b": 1.0}] * 2, params=100, flops=1000,
    )  # fmt: skip


def _result(winner: int) -> ConfirmedResult:
    rows = [
        _row(0, "independent", 0, [0.0, 0.0]),
        _row(1, "hard_sharing", 1, [-0.2, -0.1]),
        _row(2, "candidate", 2, [0.01, 0.03] if winner == 2 else None),
    ]
    tasks = [TaskInfo("a", "accuracy", True), TaskInfo("b", "abs err", False)]
    return ConfirmedResult([0, 1], winner, rows, tasks)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Figure, Any]]:
    """Each figure written, with the renderer it was drawn with (before save frees it)."""
    kept: list[tuple[Figure, Any]] = []
    real = figures.save

    def keep(fig: Figure, path: Path, description: str = "") -> Path:
        fig.canvas.draw()
        kept.append((fig, fig.canvas.get_renderer()))  # type: ignore[attr-defined]
        return real(fig, path, description)

    monkeypatch.setattr(figures, "save", keep)
    monkeypatch.setattr(result_figure, "save", keep)
    return kept


def _study() -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for v in (0.0, -0.1, 0.02):
        study.add_trial(optuna.trial.create_trial(value=v))
    return study


@pytest.mark.parametrize("winner", [0, 2])
def test_the_history_legend_names_only_what_is_drawn(
    tmp_path: Path, drawn: list[tuple[Figure, Any]], winner: int
) -> None:
    figures.plot_history(_study(), tmp_path / "h.png", _result(winner))
    ax = drawn[0][0].axes[0]
    stars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    confirmed = [x for x in labels if x.startswith("confirmed")]
    assert len(confirmed) == len(stars) == 1
    if winner == 0:
        assert confirmed[0].startswith("confirmed winner (independent, a baseline)")


@pytest.mark.parametrize("winner", [1, 2])
def test_the_per_task_labels_stay_in_their_panel(
    tmp_path: Path, drawn: list[tuple[Figure, Any]], winner: int
) -> None:
    result_figure.plot_confirmed(_result(winner), tmp_path / "c.png", "s")
    fig, renderer = drawn[0]
    boxes = [ax.get_window_extent(renderer) for ax in fig.axes]
    for i, ax in enumerate(fig.axes):
        for label in ax.get_yticklabels():
            if not label.get_text():
                continue
            box = label.get_window_extent(renderer)
            others = [b for j, b in enumerate(boxes) if j != i]
            assert not any(box.overlaps(b) for b in others), label.get_text()
