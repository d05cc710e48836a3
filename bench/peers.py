"""The affinity method against the ground truth of a table: where its trees rank, and its regret.

For each table (``mtlnas tabulate``), the ``affinity`` strategy runs for real with the table's
own configuration: it trains the single-task networks (one full training, the table's epochs
and seed 0) and measures their representation similarity. Then:

- rank: where each tree it queues ranks in the table by mean test Δ_MTL over the table's seeds;
- regret at equal compute (as ``bench/strategies.py`` counts it, full trainings; the affinity's
  own training counts 1): ``affinity`` alone (the two baselines and its trees, each answered
  with one stored seed drawn per repetition, the best validation Δ_MTL returned) and
  ``affinity+tpe`` (its trees queued after the baselines, then TPE: ``--warm-start affinity``),
  beside random and TPE replayed with the same draws.

AdaShare is not measured here: its layouts skip blocks, so they are not trees and no branched
table holds them.

    python -m bench.peers tables/digits-branched.table.json tables/scenes4-fewlabels.table.json
        [--trees 3] [--reps 100] [--budgets 6,10,20,30,40]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from bench.strategies import answer, interval, search
from nas.core import Layout
from nas.explore import SearchConfig, Table, load_table
from nas.explore.evaluators import Preparation
from nas.explore.strategies import make_strategy
from nas.study import prepare
from nas.testing import MemoryState


def affinity_trees(table: Table, trees: int) -> tuple[list[Layout], float]:
    """The affinity strategy's trees under the table's configuration, and its seconds."""
    config = SearchConfig.from_dict(table.meta["config"]).replace(strategy="affinity")
    problem, space = prepare(config, torch.device("cpu"))
    strategy = make_strategy("affinity", {"trees": trees})
    strategy.prepare(Preparation("bench", problem, space, MemoryState(), False, config))
    return list(strategy.layouts(space, config)), strategy.seconds


def replay_queued(table: Table, rep: int, budget: float, trees: Sequence[Layout],
                  sampler: str) -> Layout | None:  # fmt: skip
    """The answer of a search that spent 1 training on affinity, queued ``trees``, then drew."""
    return answer(search(table, rep, budget, sampler, queued=trees, spent=1.0), budget)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tables", nargs="+", help="table files written by mtlnas tabulate")
    p.add_argument("--trees", type=int, default=3, help="trees the strategy queues (default 3)")
    p.add_argument("--reps", type=int, default=100, help="repetitions (default 100)")
    p.add_argument("--budgets", default="6,10,20,30,40", help="compute budgets, full trainings")
    args = p.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",")]
    for path in args.tables:
        table = load_table(path)
        truth = table.ranked()
        best = truth[0].test_delta
        trees, seconds = affinity_trees(table, args.trees)
        print(f"\n[{Path(path).name}] {len(table.entries)} layouts; affinity: 1 training "
              f"({seconds:.0f} s), {len(trees)} trees")  # fmt: skip
        for tree in trees:
            entry = table.find(tree)
            assert entry is not None
            print(f"  rank {table.rank_of(tree):>3} of {len(table.entries)}: mean test Δ_MTL "
                  f"{100 * entry.test_delta:+.2f}%  {tree.summary()}")  # fmt: skip
        own = 1.0 + 2 + len(trees)  # its training, the two baselines, its trees
        at = sorted({*budgets, own})
        print(f"{'strategy':<14} {'budget':>6} {'regret (points)':>20} {'top-5':>6}")
        top5 = {e.layout for e in truth[:5]}
        regrets: dict[str, dict[float, list[float]]] = {}
        for name in ("random", "tpe", "affinity", "affinity+tpe"):
            start = time.perf_counter()
            for budget in at:
                if name == "affinity" and budget != own:
                    continue
                got_all = []
                for rep in range(args.reps):
                    if name.startswith("affinity"):
                        got = replay_queued(table, rep, budget, trees, "tpe")
                    else:
                        got = answer(search(table, rep, budget, name), budget)
                    got_all.append(got)
                found = [table.find(g) for g in got_all if g is not None]
                values = [100 * (best - e.test_delta) for e in found if e is not None]
                regrets.setdefault(name, {})[budget] = values
                if not values:
                    print(f"{name:<14} {budget:>6g} {'(over budget)':>20}")
                    continue
                mean, half = interval(values)
                hit5 = sum(g in top5 for g in got_all) / len(values)
                print(f"{name:<14} {budget:>6g} {mean:>12.2f} ± {half:<5.2f} {hit5:>6.2f}")
            print(f"{'':<14} ({time.perf_counter() - start:.0f} s)")
        for a in ("affinity", "affinity+tpe"):
            for b in ("random", "tpe"):
                for budget, x in regrets.get(a, {}).items():
                    y = regrets[b].get(budget, [])
                    if len(x) == len(y) == args.reps:
                        mean, half = interval([u - v for u, v in zip(x, y, strict=True)])
                        print(f"paired regret {a} - {b} at {budget:g} trainings: "
                              f"{mean:+.2f} ± {half:.2f} points (95%)")  # fmt: skip


if __name__ == "__main__":
    main()
