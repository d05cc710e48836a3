"""Does the model-based search find better layouts than random sampling, for the same budget?

On ``scenes``, with a fixed budget of training epochs per study (trials x epochs), runs TPE
with pruning (the default percentile rule) and random sampling without pruning, over several
search seeds each, side by side in one run, each study in its own SQLite file (so storage costs
are real). A study runs trials until it has trained for the whole budget: epochs that pruning
saves, and repeated layouts that reuse a stored result, buy further trials. Then every study's
winner is confirmed the same way as the product does it (its top distinct layouts and both
baselines retrained with fresh seeds, the winner chosen on validation, scored once on test).

Judged by the confirmed **test** Δ_MTL of each arm's winner (mean over the confirm seeds, then
mean ± sd over search seeds), beside the same figure for hard sharing; the search's own best
validation Δ_MTL is printed too, to show how optimistic it is.

    python bench/search.py [--trials 24] [--epochs 4] [--seeds 5] [--size small]
                           [--confirm-top 2] [--confirm-seeds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from nas.explore import SearchConfig
from nas.study import (
    StudyHandle,
    artifact_store,
    create_or_resume,
    open_storage,
    prepare,
    run_confirm,
    run_search,
)
from nas.training import pick_device

optuna.logging.set_verbosity(optuna.logging.WARNING)


def one_study(
    config: SearchConfig, folder: Path, device: str, top: int, seeds: int
) -> dict[str, float]:
    url = f"sqlite:///{folder / 'studies.db'}"
    storage = open_storage(url, create=True)
    problem, space = prepare(config, pick_device(device))
    study, config = create_or_resume(storage, "bench", config, {}, space)
    budget, target = config.n_trials * config.epochs, config.n_trials
    store = artifact_store(url)
    start = time.perf_counter()
    while True:
        handle = StudyHandle(study, storage, config.replace(n_trials=target), store)
        run_search(handle, problem, space, False)
        used = sum(t.user_attrs.get("epochs", 0) for t in study.get_trials(deepcopy=False))
        if used >= budget:
            break
        target += max(1, (budget - used) // config.epochs)
    wall = time.perf_counter() - start
    trials = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    hard = next(t for t in trials if t.user_attrs.get("baseline") == "hard_sharing")
    train_s = sum(t.user_attrs.get("train_seconds", 0.0) for t in trials)
    table = run_confirm(StudyHandle(study, storage, config, store), problem, top, seeds, False)
    win, hard_row = table.winner_row.test_delta, table.rows[1].test_delta
    assert win is not None and hard_row is not None  # the winner and baselines are tested
    return {
        "test": win.mean,
        "test_hard": hard_row.mean,
        "vs_hard": table.paired("hard_sharing").summary.mean,
        "best": study.best_value,
        "hard": hard.value if hard.value is not None else float("nan"),
        "per_trial": wall / len(trials),
        "outside": 1 - train_s / wall,
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "trials": len(trials),
    }


def fmt(values: list[float], pct: bool = True) -> str:
    scale = 100 if pct else 1
    mean = statistics.mean(values) * scale
    spread = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    unit = "%" if pct else ""
    return f"{mean:+.2f}{unit} ± {spread:.2f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=24, help="budget: this many trials' worth of epochs per study"
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs per trial")
    parser.add_argument("--seeds", type=int, default=5, help="studies (search seeds) per sampler")
    parser.add_argument("--confirm-top", type=int, default=2, help="finalists per study")
    parser.add_argument("--confirm-seeds", type=int, default=3, help="confirm seeds per study")
    parser.add_argument("--size", default="small", help="scenes size: tiny, small, default")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    arms = {"tpe+pruning": ("tpe", "percentile"), "random": ("random", "none")}
    results: dict[str, list[dict[str, float]]] = {arm: [] for arm in arms}
    print(
        f"scenes ({args.size}), {args.trials} trials x {args.epochs} epochs per study, "
        f"{args.seeds} seeds per sampler, device {pick_device(args.device)}"
    )
    for seed in range(args.seeds):
        for arm, (sampler, pruner) in arms.items():  # interleaved: the machine drifts alike
            config = SearchConfig(
                benchmark="scenes",
                size=args.size,
                n_trials=args.trials,
                epochs=args.epochs,
                sampler=sampler,
                pruner=pruner,
                seed=seed,
            )
            with tempfile.TemporaryDirectory() as tmp:
                r = one_study(config, Path(tmp), args.device, args.confirm_top, args.confirm_seeds)
            results[arm].append(r)
            print(
                f"  seed {seed} {arm:11} confirmed test Δ_MTL {100 * r['test']:+.2f}% "
                f"(hard sharing {100 * r['test_hard']:+.2f}%)  search's best val "
                f"{100 * r['best']:+.2f}%  {r['per_trial']:.1f} s/trial  "
                f"{r['trials']:.0f} trials, {r['pruned']:.0f} pruned",
                flush=True,
            )
    print("confirmed TEST Δ_MTL vs independent networks (mean ± sd over search seeds):")
    for arm, rs in results.items():
        print(
            f"{arm:11} winner {fmt([r['test'] for r in rs])}   "
            f"hard sharing {fmt([r['test_hard'] for r in rs])}   "
            f"independent +0.00% (by construction)   "
            f"search's best val Δ_MTL {fmt([r['best'] for r in rs])}   "
            f"wall/trial {statistics.mean(r['per_trial'] for r in rs):.2f} s   "
            f"outside training {100 * statistics.mean(r['outside'] for r in rs):.1f}%"
        )
    tpe = statistics.mean(r["test"] for r in results["tpe+pruning"])
    rnd = statistics.mean(r["test"] for r in results["random"])
    print(f"TPE+pruning minus random, confirmed test Δ_MTL: {100 * (tpe - rnd):+.2f} points")


if __name__ == "__main__":
    main()
