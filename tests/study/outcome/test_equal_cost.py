"""A study with a budget trains and confirms the baselines scaled to it, at equal cost."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import optuna
import pytest
from PIL import Image

from nas.app.cli import main
from nas.core import Layout
from nas.explore import SearchConfig, feasible
from nas.study import confirmed
from nas.study._roles import BASELINES
from tests import SMALL_CONFIRM

STUDY = ["--benchmark", "digits", "--size", "tiny", "--epochs", "1", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("equal")
    url = f"sqlite:///{where / 'studies.db'}"
    args = ["search", "--name", "b", *STUDY, "--max-cost", "flops=0.5", "--n-trials", "6"]
    assert main([*args, *SMALL_CONFIRM, "--storage", url, "--artifacts", str(where / "art")]) == 0
    return where


def _url(where: Path) -> str:
    return f"sqlite:///{where / 'studies.db'}"


def test_the_search_trains_both_baselines_scaled_to_the_budget(budgeted: Path) -> None:
    study = optuna.load_study(study_name="b", storage=_url(budgeted))
    config = SearchConfig.from_dict(json.loads(study.user_attrs["mtlnas_config"]))
    budget = config.objective_options["max_flops"]
    kinds = {t.user_attrs.get("baseline"): t for t in study.trials if "baseline" in t.user_attrs}
    assert set(kinds) == set(BASELINES)
    for role in ("independent", "hard_sharing"):
        full = Layout.from_dict(kinds[role].user_attrs["layout"])
        scaled = Layout.from_dict(kinds[f"{role}_scaled"].user_attrs["layout"])
        assert full.width == 1 and scaled.rows == full.rows
        assert scaled.width == config.baseline_widths[role]
        flops = kinds[f"{role}_scaled"].user_attrs["flops"]
        assert 0.95 * budget <= flops <= budget  # within 5% under the budget, by the cost model
        assert feasible(kinds[f"{role}_scaled"])
    assert config.baseline_widths["independent"] < 1 < config.baseline_widths["hard_sharing"]


def test_the_confirm_stage_retrains_and_tests_them_and_answers_within_the_budget(
    budgeted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = confirmed(optuna.storages.RDBStorage(_url(budgeted)), "b")
    assert result is not None
    assert [r.role for r in result.rows][:4] == list(BASELINES)
    assert all(r.tested for r in result.rows if r.role != "candidate")
    study = optuna.load_study(study_name="b", storage=_url(budgeted))
    budget = json.loads(study.user_attrs["mtlnas_config"])["objective_options"]["max_flops"]
    assert result.winner_row.flops is not None and result.winner_row.flops <= budget
    assert result.independent.flops is not None and result.independent.flops > budget
    scaled = result.role_row("independent_scaled")
    assert scaled is not None
    # Against itself the equal-cost reference scores zero; against the full networks its own.
    assert result.against(scaled, "independent_scaled") == [0.0, 0.0]
    assert result.against(scaled, "independent") == scaled.test_deltas
    assert len(result.paired("hard_sharing_scaled").diffs) == 2
    capsys.readouterr()
    assert main(["show", "b", "--storage", _url(budgeted)]) == 0
    shown = capsys.readouterr().out
    assert "vs equal-cost sep." in shown and "independent, equal cost (baseline" in shown
    assert "winner minus " in shown and "at 1.2" in shown  # hard sharing's width, e.g. 1.218x
    figures = budgeted / "fig"
    assert main(["plot", "b", "--storage", _url(budgeted), "--out", str(figures)]) == 0
    with Image.open(next(figures.glob("*confirmed*.png"))) as image:
        text = image.info["Description"]
    assert "independent, equal cost at 0.718x width" in text
    assert "% vs equal-cost separate" in text and "winner minus" in text


def test_a_scaled_network_exports_and_passes_the_parity_check(
    budgeted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = optuna.load_study(study_name="b", storage=_url(budgeted))
    trial = next(t for t in study.trials if t.user_attrs.get("baseline") == "independent_scaled")
    out = budgeted / "thin.onnx"
    args = ["export", "b", "--trial", str(trial.number), "-o", str(out)]
    assert main([*args, "--storage", _url(budgeted), "--artifacts", str(budgeted / "art")]) == 0
    assert "parity batch  64" in capsys.readouterr().out
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    layout = Layout.from_json(meta["mtlnas.layout"])
    assert layout.width == trial.user_attrs["layout"]["width"] < 1
