"""One seed trains to the same weights twice, search trials and confirm runs alike.

Training on the CPU is seeded end to end (data order, initial weights, sampler), so a rerun of a
study on the same machine, torch build and thread count gives bit-identical weights and figures.
Another thread count or CPU changes the order of floating-point sums inside the kernels, so the
weights differ in their last bits and the figures move within the seed noise (docs/results.md,
"Reproducible on one numeric set-up").
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.app._views import numerics_note
from nas.runtime import numerics
from tests import NO_LATENCY, NO_PEERS
from tests.study.store.test_faults import BASE, mtlnas


def _fingerprint(root: Path) -> list[tuple[str, list[float] | None, object]]:
    url = f"sqlite:///{root / 'studies.db'}"
    out = []
    for name in ("r", "r:confirm"):
        for t in optuna.load_study(study_name=name, storage=url).trials:
            out.append((name, t.values, t.user_attrs.get("weights_sha256")))
    return out


@pytest.mark.slow
def test_a_study_run_twice_trains_bit_identical_weights(tmp_path: Path) -> None:
    args = ["search", "--name", "r", "--n-trials", "4", "--epochs", "2", *BASE]
    args.remove("--no-confirm")
    args += ["--confirm-top", "1", "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]
    runs = []
    for k in range(2):
        root = tmp_path / str(k)
        root.mkdir()
        done = mtlnas(root, *args)
        assert done.returncode == 0, done.stderr
        runs.append(_fingerprint(root))
    assert runs[0] == runs[1]
    kept = [sha for _, _, sha in runs[0] if sha]
    assert len(kept) >= 4  # kept search weights and every confirm run's are compared


def _run(numerics: str | None) -> optuna.trial.FrozenTrial:
    attrs = {} if numerics is None else {"numerics": numerics}
    return optuna.trial.create_trial(value=0.0, user_attrs=attrs)


def test_runs_on_several_numeric_set_ups_are_named_and_one_set_up_says_nothing() -> None:
    one = [_run("torch 2.13.0, AVX512, 2 threads"), _run("torch 2.13.0, AVX512, 2 threads")]
    assert numerics_note(one, "confirm runs") is None
    assert numerics_note([*one, _run(None)], "confirm runs") is None  # older runs: unknown
    note = numerics_note([*one, _run("torch 2.13.0, AVX2, 2 threads")], "confirm runs")
    assert note is not None and "confirm runs ran on 2 numeric set-ups" in note
    assert "AVX2" in note and "AVX512" in note


def test_every_trial_stores_the_numeric_set_up_it_ran_on(tmp_path: Path) -> None:
    done = mtlnas(tmp_path, "search", "--name", "n", "--n-trials", "2", "--epochs", "1", *BASE)
    assert done.returncode == 0, done.stderr
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    trials = optuna.load_study(study_name="n", storage=url).trials
    assert {t.user_attrs["numerics"] for t in trials} == {numerics("cpu")}
