"""``--strategy adashare``: the policy learned once per study, resumed after a kill, sampled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import optuna
import pytest
import torch

from nas.app.cli import main
from nas.data.datasets import scenes
from nas.explore.evaluators import Preparation
from nas.explore.strategies import StrategyError, make_strategy
from nas.model.backbones import BackboneSpec
from nas.study import StudyRecord
from nas.testing import MemoryState
from nas.training import Problem
from search_spaces import make_space
from tests import NO_LATENCY, NO_PEERS

TINY = ["--benchmark", "scenes", "--size", "tiny", "--device", "cpu", "--quiet", "--epochs", "1"]


@pytest.fixture(scope="module")
def problem() -> Problem:
    return Problem.prepare(scenes("tiny"), BackboneSpec("conv", {"widths": [8, 8, 16]}),
                           torch.device("cpu"))  # fmt: skip


def _prep(problem: Problem, space: Any, state: Any) -> Preparation:
    return Preparation("s", problem, space, state, progress=False)


def test_a_killed_policy_training_resumes_to_the_same_policy(
    problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = make_space("adashare", problem.benchmark.task_names, 3, {})
    options = {"iterations": 30, "checkpoint_every": 10}
    whole = make_strategy("adashare", options)
    assert "learned in 30 iterations" in str(whole.prepare(_prep(problem, space, MemoryState())))
    # The same training killed after its checkpoint at iteration 20, then resumed.
    state = MemoryState()
    real_save = state.save

    def save_then_die(checkpoint: dict[str, Any]) -> None:
        real_save(checkpoint)
        if checkpoint["iteration"] == 20:
            raise KeyboardInterrupt

    monkeypatch.setattr(state, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        make_strategy("adashare", options).prepare(_prep(problem, space, state))
    monkeypatch.setattr(state, "save", real_save)
    resumed = make_strategy("adashare", options)
    assert "learned in 10 iterations" in str(resumed.prepare(_prep(problem, space, state)))
    assert torch.equal(resumed.policy.logits, whole.policy.logits)  # type: ignore[attr-defined]
    again = make_strategy("adashare", options)
    assert "loaded" in str(again.prepare(_prep(problem, space, state)))


def test_the_policy_learns_and_its_samples_are_layouts_of_the_space(problem: Problem) -> None:
    space = make_space("adashare", problem.benchmark.task_names, 3, {})
    strategy = make_strategy("adashare", {"iterations": 40, "samples": 4})
    said = str(strategy.prepare(_prep(problem, space, MemoryState())))
    p = strategy.policy  # type: ignore[attr-defined]
    a = p.select_probability().detach()[:, p.learned(strategy.unlocked)]  # type: ignore[attr-defined]
    assert f"blocks it learned, P(run) {float(a.min()):.2f}-{float(a.max()):.2f}" in said
    # Always-run depth 0 is never learned: weight decay moves both its logits alike.
    assert torch.allclose(p.select_probability()[:, 0], torch.tensor(0.5))
    assert not torch.allclose(p.select_probability()[:, 1:], torch.tensor(0.5))  # learned
    from nas.explore import SearchConfig

    layouts = strategy.layouts(space, SearchConfig(space="adashare"))
    assert 1 <= len(layouts) <= 4 and len(set(layouts)) == len(layouts)
    for layout in layouts:
        space.params(layout)  # reachable: queued as an ordinary trial


def test_adashare_is_refused_outside_a_select_or_skip_space(problem: Problem) -> None:
    space = make_space("branched", problem.benchmark.task_names, 3, {})
    with pytest.raises(StrategyError, match="use --space adashare"):
        make_strategy("adashare").prepare(_prep(problem, space, MemoryState()))


@pytest.mark.slow
def test_an_adashare_study_queues_its_samples_resumes_and_confirms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "a", "--space", "adashare", "--strategy", "adashare",
            "--strategy-option", "iterations=9",
            "--strategy-option", "samples=3", "--n-trials", "4", *TINY, "--no-confirm"]  # fmt: skip
    assert main(args) == 0
    assert "adashare policy of study 'a': learned in 9 iterations" in capsys.readouterr().out
    study = optuna.load_study(study_name="a", storage="sqlite:///studies.db")
    assert "mtlnas_strategy_state" in study.user_attrs
    # 9 iterations at batch 64 over 96 samples, at the study's 1 epoch per trial: 6 full
    # trainings' worth of samples.
    spent = StudyRecord(study).get("mtlnas_strategy_compute")["strategy"]
    assert spent["name"] == "adashare" and spent["trainings"] == 6.0 and spent["seconds"] > 0
    assert main(["resume", "a", "--n-trials", "5", "--device", "cpu", "--quiet",
                 "--confirm-seeds", "2", "--confirm-top", "1",
                 *NO_LATENCY, *NO_PEERS]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "adashare policy of study 'a': loaded" in out and "CONFIRMED" in out
    study = optuna.load_study(study_name="a", storage="sqlite:///studies.db")
    assert len(study.trials) >= 5
    # The confirmed winner, which may skip blocks, exports and runs under onnxruntime.
    assert main(["export", "a", "-o", str(tmp_path / "a.onnx")]) == 0
    session = onnxruntime.InferenceSession(tmp_path / "a.onnx", providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    shape = [d if isinstance(d, int) else 2 for d in image.shape]
    outputs = session.run(None, {image.name: np.zeros(shape, dtype=np.float32)})
    assert len(outputs) == len(session.get_outputs()) >= 2 and outputs[0].shape[0] == 2
