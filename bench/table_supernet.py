"""The supernet evaluator against a table's truth: its ranking of every layout, and its regret.

Trains one supernet on the table's own problem (its study options; ``--evaluator supernet``'s
training, ``--supernet-epochs`` epochs, default twice the table's), scores every layout of the
table with it (Δ_MTL against the independent layout scored the same way), and prints:

- Kendall τ and the top-5 overlap of its scores against the table's mean validation and mean
  test Δ_MTL, beside the noise ceiling (τ between two single-seed validation rankings of the
  table, averaged over seed pairs);
- its compute in full trainings (its training time over the table's mean training time, plus
  scoring), and the regret of what a supernet search returns: the layout it scores best alone,
  and after the confirm stage (the two baselines and its best two, retrained with the table's
  seeds, the winner by mean validation Δ_MTL), each with its compute.

    python -m bench.table_supernet tables/digits-branched.table.json [--supernet-epochs N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Sequence

import torch
from scipy import stats

from bench.strategies import CONFIRM_SEEDS, CONFIRM_TOP, space_of
from nas.data import delta_mtl
from nas.explore import SearchConfig, load_table
from nas.explore.evaluators import Candidate, Preparation, SupernetEvaluator
from nas.study import prepare
from nas.testing import MemoryState


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", help="a table file written by mtlnas tabulate")
    p.add_argument("--supernet-epochs", type=int, default=None)
    args = p.parse_args(argv)
    table = load_table(args.table)
    config = SearchConfig.from_dict(table.meta["config"])
    problem, _ = prepare(config, torch.device("cpu"))
    space = space_of(table)
    torch.manual_seed(0)
    epochs = args.supernet_epochs or 2 * config.epochs
    start = time.perf_counter()
    sup = SupernetEvaluator(config.train_config(epochs=epochs))
    sup.prepare(Preparation("bench", problem, space, MemoryState(), progress=False))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = []
    for e in table.entries:
        rows = space.instance_rows(e.layout, space.params(e.layout))
        ev = sup.evaluate(problem, Candidate(e.layout, instances=rows))
        scores.append(problem.primary(ev.metrics))
    score_s = time.perf_counter() - start
    hib = problem.higher_is_better
    base = scores[int(table.meta["independent"])]
    supernet = [delta_mtl(s, base, hib) for s in scores]
    val = [e.val_delta for e in table.entries]
    test = [e.test_delta for e in table.entries]
    seeds = len(table.meta["seeds"])
    ceiling = statistics.fmean(
        stats.kendalltau(
            [e.runs[a].val_delta for e in table.entries],
            [e.runs[b].val_delta for e in table.entries],
        ).statistic
        for a, b in itertools.combinations(range(seeds), 2)
    )

    def top5(xs: list[float]) -> set[int]:
        return set(sorted(range(len(xs)), key=lambda i: -xs[i])[:5])

    mean_train = statistics.fmean(r.train_seconds for e in table.entries for r in e.runs)
    compute = (train_s + score_s) / mean_train
    best = max(test)
    pick = max(range(len(supernet)), key=lambda i: supernet[i])
    print(f"[{args.table}] {len(table.entries)} layouts; supernet {epochs} epochs, "
          f"{train_s:.0f} s training + {score_s:.1f} s scoring = {compute:.1f} full trainings "
          f"(the table's mean training {mean_train:.1f} s)")  # fmt: skip
    for name, truth in (("mean validation", val), ("mean test", test)):
        tau = stats.kendalltau(supernet, truth).statistic
        print(f"  vs the table's {name} Δ_MTL: Kendall τ {tau:+.3f}, top-5 overlap "
              f"{len(top5(supernet) & top5(truth))}/5")  # fmt: skip
    print(f"  noise ceiling (τ of single-seed validation rankings, {seeds} seeds): {ceiling:+.3f}")
    rank = table.rank_of(table.entries[pick].layout)
    print(f"  its best layout alone: regret {100 * (best - test[pick]):.2f} points "
          f"(rank {rank}), {compute:.1f} trainings")  # fmt: skip
    n = min(CONFIRM_SEEDS, seeds)
    order = sorted(range(len(supernet)), key=lambda i: -supernet[i])
    finalists = [int(table.meta["independent"]), int(table.meta["hard_sharing"])]
    finalists += [i for i in order if i not in finalists][:CONFIRM_TOP]
    means = {i: statistics.fmean(r.val_delta for r in table.entries[i].runs[:n]) for i in finalists}
    won = max(means, key=lambda i: means[i])
    cost = compute + (2 + CONFIRM_TOP) * n
    print(f"  with the confirm stage ({n} seeds): regret {100 * (best - test[won]):.2f} points "
          f"(rank {table.rank_of(table.entries[won].layout)}), {cost:.1f} trainings")  # fmt: skip


if __name__ == "__main__":
    main()
