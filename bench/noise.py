"""How noisy is one trial's score? Fixed layouts, several seeds, validation and test Δ_MTL.

Trains each layout on ``scenes`` with every seed (the search's trainer and budget) and scores it
on the validation and the test split. Δ_MTL of a layout at seed s is measured against the
independent networks trained with the same seed s, as a study measures its trials. Prints, per
layout, the mean and sd over seeds of validation and test Δ_MTL; the seed-to-seed Kendall τ of
the layouts' ranking; and the smallest Δ_MTL difference one seed can resolve (two standard
deviations of the difference between two single-seed scores).

    python bench/noise.py [--seeds 5] [--epochs 6] [--size default] [--device auto]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import statistics
import time

import optuna

from nas.core import Layout
from nas.data import delta_mtl, load_benchmark
from nas.explore.evaluators import Candidate, FullTraining
from nas.training import Problem, TrainConfig, evaluate, pick_device
from search_spaces import BranchedSpace

TASKS = ("segmentation", "depth", "normals", "count")


def layouts(depth: int) -> dict[str, Layout]:
    """Baselines, the default study's kind of winners, and two random trees."""
    g = {
        "seg+normals share all; count leaves after 2, depth after 3": [
            (0, 0, 0, 0),
            (0, 0, 0, 0),
            (0, 0, 0, 3),
            (0, 1, 0, 3),
            (0, 1, 0, 3),
            (0, 1, 0, 3),
        ]
    }
    out = {
        "independent": Layout.independent(TASKS, depth),
        "hard sharing": Layout.hard_sharing(TASKS, depth),
        "first two blocks shared, then separate": Layout(
            TASKS, tuple((0, 0, 0, 0) if d < 2 else (0, 1, 2, 3) for d in range(depth))
        ),
        "seg, depth, normals share all; count separate": Layout(
            TASKS, tuple((0, 0, 0, 1) for _ in range(depth))
        ),
    }
    out.update({name: Layout(TASKS, tuple(rows)) for name, rows in g.items()})
    space = BranchedSpace(TASKS, depth)
    for k in range(2):
        sampler = optuna.samplers.RandomSampler(seed=100 + k)
        study = optuna.create_study(sampler=sampler)
        out[f"random tree {k + 1}"] = space.suggest(study.ask())
    return out


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's τ-a of two score lists over the same items."""
    pairs = list(itertools.combinations(range(len(a)), 2))
    s = sum(
        math.copysign(1, (a[i] - a[j]) * (b[i] - b[j]))
        for i, j in pairs
        if a[i] != a[j] and b[i] != b[j]
    )
    return s / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per layout (default 5)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per training (default 6)")
    parser.add_argument("--size", default="default", help="scenes size (default: default)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    device = pick_device(args.device)
    bench = load_benchmark("scenes", size=args.size)
    # The four tasks the README's noise figures were measured on (before scenes had edges).
    bench = dataclasses.replace(bench, tasks=tuple(t for t in bench.tasks if t.name in TASKS))
    problem = Problem.prepare(bench, None, device)
    test = bench.test.to(device)
    named = layouts(problem.backbone.depth)
    trainer = FullTraining(TrainConfig(epochs=args.epochs))
    seeds = [1000 + s for s in range(args.seeds)]  # not the search's seed 0
    print(
        f"scenes ({args.size}: {len(bench.train)} train, {len(bench.val)} val, "
        f"{len(bench.test)} test), {args.epochs} epochs, seeds {seeds}, device {device}"
    )
    val: dict[str, list[float]] = {n: [] for n in named}
    tst: dict[str, list[float]] = {n: [] for n in named}
    start = time.perf_counter()
    for seed in seeds:
        scores = {}
        for name, layout in named.items():
            e = trainer.evaluate(problem, Candidate(layout, seed=seed))
            assert e.network is not None
            scores[name] = (
                problem.primary(e.metrics),
                problem.primary(evaluate(e.network, test, bench.tasks)),
            )
        base_val, base_test = scores["independent"]
        for name, (v, t) in scores.items():
            val[name].append(delta_mtl(v, base_val, problem.higher_is_better))
            tst[name].append(delta_mtl(t, base_test, problem.higher_is_better))
        print(f"  seed {seed} done, {time.perf_counter() - start:.0f} s", flush=True)

    def ms(xs: list[float]) -> str:
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"{100 * statistics.mean(xs):+6.2f}% ± {100 * sd:4.2f}"

    print(f"{'layout':58} {'val Δ_MTL mean ± sd':>20} {'test Δ_MTL mean ± sd':>21}")
    for name in named:
        print(f"{name:58} {ms(val[name]):>20} {ms(tst[name]):>21}")
    others = [n for n in named if n != "independent"]  # independent is 0 by construction
    taus = [
        kendall_tau([val[n][i] for n in others], [val[n][j] for n in others])
        for i, j in itertools.combinations(range(len(seeds)), 2)
    ]
    print(
        f"seed-to-seed Kendall τ of the validation ranking ({len(others)} layouts): "
        f"mean {statistics.mean(taus):+.2f}, min {min(taus):+.2f}, max {max(taus):+.2f}"
    )
    sd_val = statistics.mean(statistics.stdev(val[n]) for n in others)
    sd_test = statistics.mean(statistics.stdev(tst[n]) for n in others)
    val_test = kendall_tau(
        [statistics.mean(val[n]) for n in others], [statistics.mean(tst[n]) for n in others]
    )
    print(f"mean seed sd of Δ_MTL: validation {100 * sd_val:.2f} points, test {100 * sd_test:.2f}")
    resolve = 100 * 2 * math.sqrt(2) * sd_val
    print(f"smallest difference one seed resolves (2 x sqrt(2) x sd): {resolve:.2f} points")
    print(f"Kendall τ between mean validation and mean test ranking: {val_test:+.2f}")


if __name__ == "__main__":
    main()
