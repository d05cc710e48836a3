"""The structure strategy: its features, its model, its proposals, and a study run with it."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nas.app.cli import main
from nas.core import Layout
from nas.explore.strategies import StrategyError, make_strategy
from nas.explore.strategies._structure import StructureSampler, observations
from nas.explore.strategies._surrogate import Design, features, fit
from nas.study import TrialRecord
from search_spaces import SearchSpace, make_space

TABLE = Path(__file__).parents[2] / "tables" / "digits-branched.table.json"


def test_features_of_a_hand_made_layout() -> None:
    # a and b share blocks 0-1; c splits after block 0, skips block 1 and runs a's copy of 2
    lay = Layout(("a", "b", "c"), ((0, 0, 0), (0, 0, None), (0, 1, 0)))
    assert features(lay) == {
        **{f"run:{t}:{d}": 1.0 for t in "abc" for d in range(3) if (t, d) != ("c", 1)},
        "share:a:b:0": 1.0, "share:a:c:0": 1.0, "share:b:c:0": 1.0,
        "share:a:b:1": 1.0,
        "share:a:c:2": 1.0, "alone:b:2": 1.0,
    }  # fmt: skip


def test_the_design_drops_constant_and_repeated_columns() -> None:
    # Splits only at 0, 2, 4: "share at block 0" equals "share at block 1" for every tree,
    # and every task runs every block (run:* is constant).
    space = make_space("branched", ("a", "b", "c"), 4, {"split_depths": [0, 2, 4]})
    layouts = _layouts(space)
    design = Design.of(layouts)
    assert not any(n.startswith("run:") for n in design.names)
    assert "share:a:b:0" in design.names and "share:a:b:1" not in design.names
    x = design.matrix(layouts)
    assert x.shape == (len(layouts), len(design.names))
    assert np.allclose(x.mean(axis=0), 0.0)  # centred on the candidates


def test_the_fit_recovers_a_linear_truth_and_is_unsure_away_from_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (60, 5)).astype(float) - 0.5
    w = np.array([2.0, -1.0, 0.0, 0.5, 0.0])
    post = fit(x, x @ w + rng.normal(0, 0.1, 60))
    mean, sd = post.predict(np.eye(5))
    assert np.allclose(mean - post.predict(np.zeros((1, 5)))[0], w, atol=0.15)
    assert post.noise_sd == pytest.approx(0.1, rel=0.6)
    few = fit(x[:3], (x @ w)[:3])
    assert few.predict(np.eye(5))[1].mean() > 3 * sd.mean()  # three points: a broad posterior


def test_the_sampler_proposes_only_layouts_of_the_space_and_none_twice() -> None:
    for space in (
        make_space("branched", ("a", "b", "c"), 4, {"split_depths": [0, 2, 4]}),
        make_space("adashare", ("a", "b"), 3, {"always_run": 1}),
    ):
        every = set(_layouts(space))
        study = optuna.create_study(direction="maximize", sampler=StructureSampler(space, 0, 3))
        proposed = []
        for _ in range(len(every)):
            trial = study.ask()
            layout = space.suggest(trial)
            trial.set_user_attr("layout", layout.to_dict())
            proposed.append(layout)
            study.tell(trial, float(len(layout.used_blocks())))
        assert set(proposed) == every  # each once, every one of them, nothing outside
        assert [lay for lay, _ in observations(study, space)] == proposed


def _additive_landscape(seed: int) -> tuple[SearchSpace, dict[Layout, float]]:
    # Four tasks, splits at 0, 2, 4, 6 (154 trees). Δ is a known sum of pair effects: +1 for
    # each "tasks p and q share block d" of a hidden tree, -1 for each it lacks, so that tree
    # is the one best layout; which tree it is differs by seed.
    tasks = ("a", "b", "c", "d")
    space = make_space("branched", tasks, 6, {"split_depths": [0, 2, 4, 6]})
    layouts = _layouts(space)
    hidden = features(random.Random(seed).choice(layouts))
    truth = {
        lay: sum(1.0 if k in hidden else -1.0 for k in features(lay) if k.startswith("share"))
        for lay in layouts
    }
    return space, truth


@pytest.mark.parametrize("strategy", ["structure"])
def test_on_an_additive_landscape_it_finds_the_best_far_more_often_than_random(
    strategy: str,
) -> None:
    found = {"random": 0, strategy: 0}
    for seed in range(10):
        space, truth = _additive_landscape(seed)
        best = max(truth, key=lambda lay: truth[lay])
        noise = np.random.default_rng(seed)
        for name in found:
            sampler = make_strategy(name).sampler_for(space, seed)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            for _ in range(20):
                trial = study.ask()
                layout = space.suggest(trial)
                trial.set_user_attr("layout", layout.to_dict())
                study.tell(trial, truth[layout] + noise.normal(0, 2.0))
            tried = {space.suggest(optuna.trial.FixedTrial(t.params)) for t in study.trials}
            found[name] += best in tried
    # 20 of 154 trees: random proposals hold the best about 13% of the time
    assert found[strategy] >= 8 and found[strategy] >= found["random"] + 5, found


def test_bad_options_are_refused_in_one_line() -> None:
    with pytest.raises(StrategyError, match="acquisition must be one of"):
        make_strategy("structure", {"acquisition": "ucb"})
    with pytest.raises(StrategyError, match="n_startup_trials"):
        make_strategy("structure", {"n_startup_trials": -1})


def test_a_study_with_it_trains_a_new_layout_every_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Answered from the shipped digits table (35 trees): no training, the real study path.
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "s", "--n-trials", "16", "--no-confirm", "--quiet",
            "--evaluator", f"table:{TABLE}", "--benchmark", "digits", "--size", "small",
            "--epochs", "3", "--device", "cpu", "--strategy", "structure"]  # fmt: skip
    assert main(args) == 0
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    done = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(done) == 16
    records = [TrialRecord.of(t) for t in done]
    assert all(r.duplicate_of is None for r in records)
    assert len({r.summary for r in records}) == 16


def _layouts(space: SearchSpace) -> list[Layout]:
    dists = space.distributions()
    choices = [list(d.choices) for d in dists.values()]  # type: ignore[attr-defined]
    seen: dict[Layout, None] = {}
    for values in itertools.product(*choices):
        fixed = optuna.trial.FixedTrial(dict(zip(dists, values, strict=True)))
        seen.setdefault(space.suggest(fixed), None)
    return list(seen)
