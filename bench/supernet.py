"""Does the supernet rank layouts as full training does, and at what cost? Then: equal-time search.

Per benchmark (the branched space, the study defaults: 6 epochs, batch 64, lr 3e-3):

1. ``--layouts`` layouts: both baselines and random distinct ones of the space (seeded).
2. Each is trained from scratch with ``--seeds`` seeds and scored on validation; Δ_MTL of a
   layout at seed s is against the independent networks of seed s; the mean over seeds is the
   reference ranking.
3. One supernet is trained (as ``--evaluator supernet`` trains it) and every layout is scored by
   it, Δ_MTL against the independent layout scored the same way.
4. Printed: Kendall tau and Spearman rho between supernet and multi-seed full training; the noise
   ceiling (tau between two single-seed full trainings, averaged over seed pairs); the overlap of
   the top 5; the cost per layout of a 100-layout study relative to one full training.
5. With ``--search``: a full-training study of ``--full-trials`` trials and a supernet study
   with as many trials as fit in the same wall time, both confirmed (2 finalists + baselines,
   ``--confirm-seeds`` fresh seeds, test split); each winner's test Δ_MTL is printed.

    python bench/supernet.py [--benchmark scenes|digits|all] [--size small] [--search]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from scipy import stats

from nas.app.cli import main as mtlnas
from nas.core import Layout
from nas.data import delta_mtl
from nas.explore.evaluators import Candidate, FullTraining, Preparation, SupernetEvaluator
from nas.study import confirmed
from nas.testing import MemoryState
from nas.training import Problem, TrainConfig
from search_spaces import SearchSpace, make_space

EPOCHS, BATCH, LR = 6, 64, 3e-3


def layouts(space: SearchSpace, n: int, seed: int) -> list[tuple[Layout, dict[str, Any]]]:
    """Both baselines, then distinct random layouts of the space."""
    rng = np.random.default_rng(seed)
    out: list[tuple[Layout, dict[str, Any]]] = [
        (Layout.independent(space.tasks, space.depth), {}),
        (Layout.hard_sharing(space.tasks, space.depth), {}),
    ]
    seen = {layout for layout, _ in out}
    dists = space.distributions()
    while len(out) < n:
        params = {
            k: int(rng.integers(d.low, d.high + 1))  # type: ignore[attr-defined]
            for k, d in dists.items()
        }
        layout = space.suggest(optuna.trial.FixedTrial(params))
        if layout not in seen:
            seen.add(layout)
            out.append((layout, params))
    return out


def rank_study(bench: str, args: argparse.Namespace) -> dict[str, Any]:
    from nas.data import load_benchmark

    problem = Problem.prepare(
        load_benchmark(bench, size=args.size, seed=0), None, torch.device("cpu")
    )
    space = make_space("branched", problem.benchmark.task_names, problem.backbone.depth)
    chosen = layouts(space, args.layouts, seed=1)
    up = problem.higher_is_better
    full = FullTraining(TrainConfig(epochs=EPOCHS, batch_size=BATCH, lr=LR))
    per_seed: list[list[float]] = []  # [seed][layout] Δ_MTL
    train_s: list[float] = []
    earlier = _earlier(args, bench, [layout.summary() for layout, _ in chosen])
    if earlier is not None:  # the same layouts, seeds and budget: reuse those trainings
        per_seed, train_s = earlier["per_seed_delta"], [earlier["full_train_s"]]
        print(f"  [{bench}] full training: reused from {args.full_from}", flush=True)
    for seed in range(len(per_seed), args.seeds):
        primaries = []
        for layout, _ in chosen:
            start = time.perf_counter()
            ev = full.evaluate(problem, Candidate(layout, seed=seed))
            train_s.append(time.perf_counter() - start)
            primaries.append(problem.primary(ev.metrics))
        per_seed.append([delta_mtl(p, primaries[0], up) for p in primaries])
        print(f"  [{bench}] full training, seed {seed}: {len(chosen)} layouts", flush=True)
    mean_full = [statistics.fmean(col) for col in zip(*per_seed, strict=True)]
    start = time.perf_counter()
    sup = SupernetEvaluator(
        TrainConfig(epochs=args.supernet_epochs, batch_size=BATCH, lr=LR),
        recalibration_images=args.recalibration_images,
    )
    sup.prepare(Preparation("bench", problem, space, MemoryState(), progress=False))
    supernet_train_s = time.perf_counter() - start
    scores, score_s = [], []
    for layout, params in chosen:
        start = time.perf_counter()
        ev = sup.evaluate(problem, Candidate(layout, instances=space.instance_rows(layout, params)))
        score_s.append(time.perf_counter() - start)
        scores.append(problem.primary(ev.metrics))
    supernet = [delta_mtl(s, scores[0], up) for s in scores]
    tau = stats.kendalltau(supernet, mean_full).statistic
    rho = stats.spearmanr(supernet, mean_full).statistic
    ceiling = statistics.fmean(
        stats.kendalltau(per_seed[a], per_seed[b]).statistic
        for a, b in itertools.combinations(range(args.seeds), 2)
    )
    top = set(np.argsort(mean_full)[-5:]) & set(np.argsort(supernet)[-5:])
    mean_train = statistics.fmean(train_s)
    cost = (supernet_train_s + 100 * statistics.fmean(score_s)) / 100 / mean_train
    return {
        "benchmark": bench, "size": args.size, "layouts": len(chosen), "seeds": args.seeds,
        "kendall_tau": tau, "spearman_rho": rho, "noise_ceiling_tau": ceiling,
        "top5_overlap": len(top), "supernet_train_s": supernet_train_s,
        "score_s": statistics.fmean(score_s), "full_train_s": mean_train,
        "cost_per_layout_100": cost, "full_mean_delta": mean_full, "supernet_delta": supernet,
        "per_seed_delta": per_seed, "summaries": [layout.summary() for layout, _ in chosen],
    }  # fmt: skip


def _earlier(args: argparse.Namespace, bench: str, summaries: list[str]) -> dict[str, Any] | None:
    if args.full_from is None:
        return None
    for row in json.loads(Path(args.full_from).read_text()):
        same = (row["benchmark"], row["size"], row["summaries"]) == (bench, args.size, summaries)
        if same and row["seeds"] == args.seeds:
            return dict(row)
    return None


def equal_time_search(bench: str, args: argparse.Namespace, row: dict[str, Any]) -> dict[str, Any]:
    """Full-training search, then a supernet search given the same wall time; both confirmed."""
    root = Path(tempfile.mkdtemp(prefix="mtlnas-bench-"))
    url = f"sqlite:///{root / 'studies.db'}"
    run = ["--device", "cpu", "--quiet", "--storage", url]
    common = ["--benchmark", bench, "--size", args.size, *run]
    out: dict[str, Any] = {}

    def timed(*argv: str) -> float:
        start = time.perf_counter()
        assert mtlnas(list(argv)) == 0
        return time.perf_counter() - start

    out["full_search_s"] = timed(
        "search", "--name", "full", "--n-trials", str(args.full_trials), "--no-confirm", *common
    )
    # As many supernet trials as fit in the same wall time (its supernet training included).
    n = int((out["full_search_s"] - row["supernet_train_s"]) / row["score_s"])
    out["supernet_trials"] = n
    if n < 12:  # the supernet's training alone takes (nearly) the full search's time
        return out
    out["supernet_search_s"] = timed(
        "search", "--name", "supernet", "--evaluator", "supernet", "--n-trials", str(n),
        "--no-confirm", *common,
    )  # fmt: skip
    storage = optuna.storages.RDBStorage(url)
    for name in ("full", "supernet"):
        out[f"{name}_confirm_s"] = timed("confirm", name, "--seeds", str(args.confirm_seeds), *run)
        table = confirmed(storage, name)
        assert table is not None
        win = table.winner_row
        delta = win.test_delta
        out[name] = {"winner": win.summary, "test_delta": delta and delta.to_dict()}
        out[name]["paired"] = table.to_dict()["paired"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--benchmark", choices=["scenes", "digits", "all"], default="all")
    parser.add_argument("--size", default="small", help="benchmark size (default small)")
    parser.add_argument("--layouts", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3, help="full-training seeds per layout")
    parser.add_argument("--search", action="store_true", help="also the equal-time searches")
    parser.add_argument("--full-trials", type=int, default=12)
    parser.add_argument("--confirm-seeds", type=int, default=3)
    parser.add_argument("--json", default=None, help="write every figure to this file")
    parser.add_argument(
        "--full-from", default=None, help="reuse the full trainings of an earlier --json file"
    )
    parser.add_argument("--supernet-epochs", type=int, default=2 * EPOCHS)
    parser.add_argument("--recalibration-images", type=int, default=1024)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, size {args.size}")
    results = []
    for bench in ["scenes", "digits"] if args.benchmark == "all" else [args.benchmark]:
        row = rank_study(bench, args)
        print(
            f"[{bench}] {row['layouts']} layouts: supernet vs {args.seeds}-seed full training"
            f" Kendall tau {row['kendall_tau']:+.3f}, Spearman rho {row['spearman_rho']:+.3f};"
            f" noise ceiling (tau, single-seed vs single-seed) {row['noise_ceiling_tau']:+.3f};"
            f" top-5 overlap {row['top5_overlap']}/5; cost per layout (100-layout study)"
            f" {100 * row['cost_per_layout_100']:.1f}% of one full training (supernet"
            f" {row['supernet_train_s']:.0f} s once, {row['score_s']:.2f} s per layout; full"
            f" training {row['full_train_s']:.1f} s per layout)",
            flush=True,
        )
        results.append(row)
        if args.json:  # after every benchmark, so a failure later loses nothing
            Path(args.json).write_text(json.dumps(results, indent=1, default=float))
        if args.search:
            row["search"] = s = equal_time_search(bench, args, row)
            if "supernet" not in s:
                print(
                    f"[{bench}] equal-time search: the full search took {s['full_search_s']:.0f}"
                    f" s, the supernet's training alone {row['supernet_train_s']:.0f} s: room"
                    f" for {s['supernet_trials']} scored layouts; raise --full-trials"
                )
                continue
            for name in ("full", "supernet"):
                d = s[name]["test_delta"]
                trials = s["supernet_trials"] if name == "supernet" else args.full_trials
                print(
                    f"[{bench}] {name} search ({s[f'{name}_search_s']:.0f} s, {trials} trials;"
                    f" confirm {s[f'{name}_confirm_s']:.0f} s"
                    + f"): confirmed winner test Δ_MTL {d['mean']:+.2%} ± {d['sd']:.2%}"
                    f" over {d['n']} seeds  [{s[name]['winner']}]",
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
