"""The weight-sharing supernet: fair training, faithful scoring, recalibration, kill and resume."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from nas.core import Layout
from nas.data.datasets import scenes
from nas.explore.evaluators import Candidate, Preparation, StateKeeper, SupernetEvaluator
from nas.model.backbones import BackboneSpec
from nas.study._store.evaluator_state import StudyState
from nas.study._store.weights import AtomicFileStore
from nas.testing import MemoryState
from nas.training import FairSampler, Problem, Supernet, TrainConfig, recalibrate
from search_spaces import make_space

WIDTHS = {"widths": [8, 8, 16]}


@pytest.fixture(scope="module")
def problem() -> Problem:
    return Problem.prepare(scenes("tiny"), BackboneSpec("conv", WIDTHS), torch.device("cpu"))


def _prep(problem: Problem, space: Any, state: StateKeeper) -> Preparation:
    return Preparation("s", problem, space, state, progress=False)


def _trained(
    problem: Problem, space_name: str = "branched", **options: Any
) -> tuple[SupernetEvaluator, Any]:
    space = make_space(space_name, problem.benchmark.task_names, 3, options)
    ev = SupernetEvaluator(TrainConfig(epochs=2, batch_size=32))
    ev.prepare(_prep(problem, space, MemoryState()))
    return ev, space


def test_every_copy_is_updated_at_every_step(problem: Problem) -> None:
    space = make_space("branched", problem.benchmark.task_names, 3)
    torch.manual_seed(0)
    calls: Counter[str] = Counter()
    initial: dict[str, torch.Tensor] = {}
    original_init = Supernet.__init__

    def counting_init(self: Supernet, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        for name, module in self.blocks.items():
            if name.startswith("b"):
                module.register_forward_hook(lambda m, i, o, name=name: calls.update([name]))
        initial.update({k: v.clone() for k, v in self.state_dict().items()})

    Supernet.__init__ = counting_init  # type: ignore[method-assign]
    try:
        ev = SupernetEvaluator(TrainConfig(epochs=1, batch_size=32))
        ev.prepare(_prep(problem, space, MemoryState()))
    finally:
        Supernet.__init__ = original_init  # type: ignore[method-assign]
    assert ev.net is not None
    steps = -(-len(problem.train) // 32)
    copies = [f"b{d}_{k}" for d in range(3) for k in range(len(space.tasks))]
    assert set(calls) == set(copies)  # five copies per depth: one per task
    assert all(calls[c] >= steps for c in copies)  # the independent layout, every step
    state = ev.net.state_dict()
    for c in copies:
        assert not torch.equal(
            state[f"blocks.{c}.conv1.weight"], initial[f"blocks.{c}.conv1.weight"]
        )


@pytest.mark.parametrize(
    ("space_name", "options"), [("adashare", {"instances": 2}), ("branched", {})]
)
def test_the_sampler_draws_every_value_once_per_cycle(
    space_name: str, options: dict[str, int]
) -> None:
    space = make_space(space_name, ("a", "b", "c"), 4, options)
    sampler = FairSampler(space, seed=0)
    dists = space.distributions()
    for name, d in dists.items():
        want = d.choices if hasattr(d, "choices") else range(d.low, d.high + 1)  # type: ignore[attr-defined]
        assert sampler.values[name] == list(want)
    assert set(sampler.values) == set(dists)
    n = math.lcm(*(len(v) for v in sampler.values.values()))  # every queue ends a cycle
    tally: dict[str, Counter[Any]] = {name: Counter() for name in sampler.values}
    orders = set()
    for block in range(3):
        drawn = [sampler.next_params() for _ in range(n)]
        for params in drawn:
            for name, value in params.items():
                tally[name][value] += 1
        orders.add(tuple(tuple(p.values()) for p in drawn))
        for name, values in sampler.values.items():
            each = (block + 1) * n // len(values)
            assert tally[name] == Counter({v: each for v in values})  # exact, value by value
    assert len(orders) == 3  # a fresh random order every cycle
    layout, rows = sampler.draw()
    assert Layout(layout.tasks, rows) == layout


def test_scoring_leaves_the_supernet_unchanged(problem: Problem) -> None:
    ev, space = _trained(problem)
    assert ev.net is not None
    before = {k: v.clone() for k, v in ev.net.state_dict().items()}
    layout = space.suggest(optuna.trial.FixedTrial({k: 1 for k in space.distributions()}))
    result = ev.evaluate(problem, Candidate(layout, instances=space.instance_rows(layout, {})))
    assert set(result.metrics) == set(problem.benchmark.task_names)
    after = ev.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_recalibration_changes_the_statistics_and_nothing_else(problem: Problem) -> None:
    ev, space = _trained(problem)
    assert ev.net is not None
    layout = Layout.hard_sharing(space.tasks, 3)
    net = problem.build(layout)
    net.load_state_dict(ev.net.state_for(layout, space.instance_rows(layout, {})))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    params = {k for k, _ in net.named_parameters()}
    recalibrate(net, problem.train, 64, 32, seed=0)
    after = net.state_dict()
    for key in before:
        if key in params:
            assert torch.equal(before[key], after[key]), key
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert stats and all(not torch.equal(before[k], after[k]) for k in stats)
    again = {k: v.clone() for k, v in after.items()}
    recalibrate(net, problem.train, 64, 32, seed=0)  # the same images: the same statistics
    assert all(torch.allclose(again[k], net.state_dict()[k]) for k in stats)


def test_adashare_tasks_run_the_copy_they_chose(problem: Problem) -> None:
    ev, space = _trained(problem, "adashare", instances=2)
    assert ev.net is not None
    tasks = space.tasks
    params = {name: 0 for name in space.distributions()}
    params[f"block:{tasks[0]}:1"] = 1  # task 0 takes copy 1 at depth 1, the others copy 0
    layout = space.suggest(optuna.trial.FixedTrial(params))
    rows = space.instance_rows(layout, params)
    assert layout.rows[1][0] == 0 and rows[1][0] == 1  # canonical renumbering vs the copy
    state = ev.net.state_for(layout, rows)
    sup = ev.net.state_dict()
    key = "conv1.weight"
    assert torch.equal(state[f"blocks.b1_{layout.rows[1][0]}.{key}"], sup[f"blocks.b1_1.{key}"])
    assert torch.equal(state[f"blocks.b1_{layout.rows[1][1]}.{key}"], sup[f"blocks.b1_0.{key}"])
    net = problem.build(layout)
    net.load_state_dict(state)  # fits the candidate's own network exactly


def _study(tmp_path: Path, name: str) -> tuple[optuna.Study, StudyState]:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name=name, storage=url)
    store = AtomicFileStore(str(tmp_path / "artifacts"))
    (tmp_path / "artifacts").mkdir(exist_ok=True)
    return study, StudyState(study, store, url, label="supernet")


def test_a_killed_training_resumes_from_its_last_saved_epoch(
    problem: Problem, tmp_path: Path
) -> None:
    space = make_space("branched", problem.benchmark.task_names, 3)
    _, whole = _study(tmp_path, "whole")
    straight = SupernetEvaluator(TrainConfig(epochs=3, batch_size=32))
    straight.prepare(_prep(problem, space, whole))
    _, keeper = _study(tmp_path, "killed")
    real_save = keeper.save

    def save_then_die(checkpoint: dict[str, Any]) -> None:
        real_save(checkpoint)
        if checkpoint["epoch"] == 2:
            raise KeyboardInterrupt  # killed right after epoch 2 was stored

    keeper.save = save_then_die  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        SupernetEvaluator(TrainConfig(epochs=3, batch_size=32)).prepare(
            _prep(problem, space, keeper)
        )
    keeper.save = real_save  # type: ignore[method-assign]
    assert keeper.entry() is not None and keeper.entry()["epoch"] == 2  # type: ignore[index]
    resumed = SupernetEvaluator(TrainConfig(epochs=3, batch_size=32))
    resumed.prepare(_prep(problem, space, keeper))
    assert resumed.trained_epochs == 1  # epoch 3 only
    loaded = SupernetEvaluator(TrainConfig(epochs=3, batch_size=32))
    loaded.prepare(_prep(problem, space, keeper))
    assert loaded.trained_epochs == 0  # a trained supernet is never trained again
    assert straight.net is not None and resumed.net is not None and loaded.net is not None
    a, b, c = (e.net.state_dict() for e in (straight, resumed, loaded))
    assert all(torch.equal(a[k], b[k]) and torch.equal(b[k], c[k]) for k in a)
    files = list((tmp_path / "artifacts").iterdir())
    assert len(files) == 2  # one checkpoint per study: older epochs were removed
