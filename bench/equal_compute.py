"""Pipelines at the affinity method's compute, against the ground truth of a table.

The search issue asks the default to tie or beat the affinity method *at no more compute*. The
affinity method spends 1 training on single-task networks, 2 on the baselines, 3 on its trees
and ``(2 + 2) * S`` in the confirm stage (both baselines and its two best trees on ``S`` fresh
seeds), ``S = min(5, the table's seeds)``: 26 trainings with 5 seeds. Each pipeline here spends
the same, split between its search and its confirm stage:

- ``affinity``: the method itself (``--strategy affinity``: its three trees, top 2 confirmed);
- ``SAMPLER+confirm`` (random, tpe, paths, and spread: TPE with ``start=spread``): the search,
  then the confirm stage (top 2), with what the confirm stage leaves for the search;
  ``tpe+confirm`` is today's default;
- ``+model``: the finalists are the layouts tried with the best posterior mean of the per-task
  path model (which pools every training of a shared path), not the best single-seed scores;
- ``+top1``: one finalist instead of two, so the search gets ``S`` more trainings;
- ``affinity+SAMPLER``: ``--warm-start affinity``, its training and trees, then the sampler.

``--extra N`` gives every pipeline but ``affinity`` N trainings more (14: the main job's 40).
Every pipeline's answer is the retrained layout of best mean validation Δ_MTL over the confirm
seeds, the baselines included, as the product's verdict chooses; the regret is in points of the
table's mean **test** Δ_MTL, paired by repetition against ``--against`` (default ``affinity``).

    python -m bench.equal_compute tables/digits-branched.table.json [more] [--reps 100]
        [--extra 14] [--pipelines affinity,tpe+confirm,...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.strategies import (
    CONFIRM_TOP,
    confirm_seeds,
    finalists,
    interval,
    outside_space,
    search,
    verdict,
)
from nas.core import Layout
from nas.explore import Table, load_table

AFFINITY_TREES = 3


Pipeline = Callable[[Table, int, list[Layout]], Layout]


def affinity_compute(table: Table) -> int:
    """The affinity method's trainings on ``table``: its own, the baselines, trees, confirm."""
    return 1 + 2 + AFFINITY_TREES + (2 + CONFIRM_TOP) * confirm_seeds(table)


def pipelines(extra: float = 0.0) -> dict[str, Pipeline]:
    """Each pipeline: (table, repetition, affinity trees) -> its confirmed answer.

    Every pipeline but ``affinity`` spends the affinity method's compute plus ``extra``.
    """

    def make(sampler: str, warm: bool, top: int, by: str, more: float = extra) -> Pipeline:
        def run(table: Table, seed: int, trees: list[Layout]) -> Layout:
            seeds = confirm_seeds(table)
            budget = affinity_compute(table) + more
            search_budget = budget - (2 + top) * seeds
            queued, spent = (trees, 1.0) if warm else ((), 0.0)
            rep = search(table, seed, search_budget, sampler, queued=queued, spent=spent)
            return verdict(rep, finalists(rep, search_budget, top, by), seeds)

        return run

    return {
        "affinity": make("random", True, 2, "score", 0.0),  # the budget ends with its trees
        "random+confirm": make("random", False, 2, "score"),
        "random+top1+score": make("random", False, 1, "score"),
        "tpe+confirm": make("tpe", False, 2, "score"),
        "paths+confirm": make("paths", False, 2, "score"),
        "spread+confirm": make("spread", False, 2, "score"),
        "tpe+confirm+model": make("tpe", False, 2, "model"),
        "paths+confirm+model": make("paths", False, 2, "model"),
        "affinity+tpe+confirm": make("tpe", True, 2, "score"),
        "affinity+paths+confirm": make("paths", True, 2, "score"),
        "affinity+paths+confirm+model": make("paths", True, 2, "model"),
        "tpe+top1+score": make("tpe", False, 1, "score"),
        "paths+top1+score": make("paths", False, 1, "score"),
        "paths+top1+model": make("paths", False, 1, "model"),
        "affinity+paths+top1+score": make("paths", True, 1, "score"),
        "affinity+paths+top1+model": make("paths", True, 1, "model"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tables", nargs="+", help="table files written by mtlnas tabulate")
    p.add_argument("--reps", type=int, default=100, help="repetitions (default 100)")
    p.add_argument("--pipelines", default=None, help="comma-separated subset (default: all)")
    p.add_argument(
        "--extra",
        type=float,
        default=0.0,
        help="trainings every pipeline but affinity spends beyond its compute",
    )
    p.add_argument("--against", default="affinity", help="pair every pipeline with this one")
    args = p.parse_args(argv)
    from bench.peers import affinity_trees  # trains for real: imported only when run

    chosen = pipelines(args.extra)
    if args.pipelines:
        chosen = {k: v for k, v in chosen.items() if k in args.pipelines.split(",")}
    for path in args.tables:
        table = load_table(path)
        outside = outside_space(table)  # a select/skip space's independent networks
        truth = [e for e in table.ranked() if e.layout not in outside]
        best, top5 = truth[0].test_delta, {e.layout for e in truth[:5]}
        branched = table.meta["space"] == "branched"  # affinity builds trees
        trees = affinity_trees(table, AFFINITY_TREES)[0] if branched else []
        seeds = confirm_seeds(table)
        print(f"\n[{Path(path).name}] {len(table.entries)} layouts; compute "
              f"{affinity_compute(table)} + {args.extra:g} trainings ({seeds} confirm seeds); "
              f"affinity trees at ranks "
              f"{[table.rank_of(t) for t in trees]}")  # fmt: skip
        regrets: dict[str, list[float]] = {}
        for name, pipeline in chosen.items():
            if "affinity" in name and not branched:
                continue
            start = time.perf_counter()
            got = [pipeline(table, rep, trees) for rep in range(args.reps)]
            found = [table.find(g) for g in got]
            regrets[name] = [100 * (best - e.test_delta) for e in found if e is not None]
            mean, half = interval(regrets[name])
            hit5 = sum(g in top5 for g in got) / len(got)
            line = f"{name:<27} regret {mean:6.2f} ± {half:4.2f}  top-5 {hit5:.2f}"
            if name != args.against and args.against in regrets:
                d = [a - b for a, b in zip(regrets[name], regrets[args.against], strict=True)]
                dm, dh = interval(d)
                line += f"  minus {args.against} {dm:+.2f} ± {dh:.2f}"
            print(f"{line}  ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
