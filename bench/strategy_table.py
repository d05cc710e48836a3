"""The strategy table of docs/results.md: confirmed studies of one benchmark, side by side.

Each named study is a finished ``mtlnas search`` (search, then the confirm stage on fresh seeds
and the test split). Per study: its compute in full-training equivalents (as ``mtlnas show``
counts it), the winner's test Δ_MTL (mean ± sd over the confirm seeds; the winner may be a
baseline, when no searched finalist beat it on validation), its FLOPs against the
independent networks, its rank in a ground-truth table when one is given (a layout outside the
table, e.g. one that skips blocks, has none), and the winner minus the first study's winner
paired seed by seed (± SE): the confirm stage trains every finalist with the same seeds, so
studies of one benchmark pair up exactly.

    python -m bench.strategy_table digits-tpe digits-random digits-affinity digits-adashare \\
        --storage sqlite:///studies.db --table tables/digits-branched.table.json
    python -m bench.strategy_table scenes-branched@sqlite:///main/studies.db scenes-random
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import optuna

from nas.explore import Table, load_table
from nas.study import ConfirmedResult, confirmed, open_storage, study_config
from nas.study._compute import study_compute
from nas.study._outcome.stats import summarize

__all__ = ["main", "rows"]


def _paired(mine: Sequence[float], first: Sequence[float]) -> str:
    s = summarize([100 * (a - b) for a, b in zip(mine, first, strict=True)])
    return f"{s.mean:+.2f} ± {s.se:.2f}"


def _winner(result: ConfirmedResult) -> str:
    # The verdict may answer a baseline: name it, and how far behind the best searched one was.
    row = result.winner_row
    if row.role == "candidate":
        return row.summary.replace(" | ", "; ")
    best = max(r.val_delta.mean for r in result.rows if r.role == "candidate")
    role = row.role.replace("_", " ")
    return f"{role} (baseline; best searched finalist {100 * best:+.2f}% on val)"


def rows(storage_url: str, names: Sequence[str], table: Table | None) -> list[list[str]]:
    """One row per study: name, compute, test Δ_MTL, FLOPs, rank, paired minus the first.

    Raises:
        SystemExit: a study is missing or has not finished its confirm stage.
    """
    out, first = [], None
    for spec in names:
        # NAME, or NAME@URL for a study kept in another database.
        name, _, url = spec.partition("@")
        storage = open_storage(url or storage_url)
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise SystemExit(f"no study {name!r} in {url or storage_url}") from None
        result = confirmed(storage, name)
        if result is None:
            raise SystemExit(f"study {name!r} is not confirmed yet: mtlnas resume {name}")
        runs = optuna.load_study(study_name=f"{name}:confirm", storage=storage)
        compute = study_compute(study, study_config(study).epochs, runs.get_trials(deepcopy=False))
        win = result.winner_row
        deltas = win.test_deltas
        assert deltas is not None and win.test_delta is not None  # a confirmed winner is tested
        first = deltas if first is None else first
        ratio = result.cost_ratio(win)
        rank = "n/a"
        if table is not None:
            layout = win.layout
            found = table.find(layout) is not None
            rank = f"{table.rank_of(layout)}/{len(table.entries)}" if found else "not a tree"
        d = win.test_delta
        out.append([
            name, f"{compute.total:.1f}", f"{100 * d.mean:+.2f}% ± {100 * d.sd:.2f}",
            "n/a" if ratio is None else f"{ratio[0]:.2f}x", rank,
            "" if deltas is first else _paired(deltas, first), _winner(result),
        ])  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "studies", nargs="+", help="confirmed studies (NAME or NAME@URL), the first the reference"
    )
    parser.add_argument("--storage", default="sqlite:///studies.db")
    parser.add_argument("--table", help="ground-truth table (mtlnas tabulate) for the ranks")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    table = load_table(args.table) if args.table else None
    head = ["study", "compute (full trainings)", "test Δ_MTL (mean ± sd)", "FLOPs", "table rank",
            f"paired minus {args.studies[0].partition('@')[0]} (± SE)", "winner"]  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for row in rows(args.storage, args.studies, table):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
