"""The table evaluator: a candidate answered from a ground-truth table, in microseconds.

Each query draws one of the layout's stored seeds (as NAS-Bench-201's queries do), replays
its per-epoch validation scores through ``progress`` so a pruner acts as it would on a real
training, and charges the stored training time, so a strategy's compute is counted as if it
had trained. The table's own test scores stay in the table: a search never sees them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from nas.explore._tables import Table, TableError, load_table
from nas.explore.evaluators._base import Candidate, Evaluation, Evaluator, Progress
from nas.training._problem import Problem

__all__ = ["TableEvaluator", "check_matches"]

# The study options a table fixes: a study answered from it must use the same.
MATCHED = ("benchmark", "size", "tasks", "labels", "space", "space_options", "backbone",
           "backbone_options", "epochs", "batch_size", "lr", "seed", "data",
           "benchmark_options")  # fmt: skip
# Options newer than some tables: a table that does not name one was built with its default.
DEFAULTS: dict[str, Any] = {"benchmark_options": {}}


def check_matches(table: Table, config: Mapping[str, Any], where: str) -> None:
    """Raise TableError unless ``config`` (a study's options) is what built ``table``."""
    built = table.meta.get("config", {})
    # The table's data seed fixes the split; the study's seed only seeds its draws.
    built = {**DEFAULTS, **built}
    differ = [k for k in MATCHED if k != "seed" and built.get(k) != config.get(k)]
    if differ:
        wanted = ", ".join(f"{k}={built.get(k)!r}" for k in differ)
        raise TableError(
            f"table {where!r} was built with other study options: {wanted} (this study has "
            f"{', '.join(f'{k}={config.get(k)!r}' for k in differ)}); give the table's options"
        )


class TableEvaluator(Evaluator):
    """Answers a candidate from ``table``: one stored seed, drawn from the candidate's seed.

    The draw is seeded by the candidate's seed and layout, so a study is reproducible and two
    studies with different seeds see different draws of the same layout.
    """

    def __init__(self, table: Table, where: str = "table") -> None:
        self.table, self.where = table, where

    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: Progress | None = None
    ) -> Evaluation:
        """The drawn run's validation metrics, after replaying its curve through ``progress``."""
        del problem  # the table was trained on it (checked when the evaluator was made)
        entry = self.table.find(candidate.layout)
        if entry is None:
            raise TableError(
                f"layout {candidate.layout.summary()} is not in table {self.where!r} "
                f"({len(self.table.entries)} layouts)"
            )
        rng = random.Random(f"{candidate.seed}|{candidate.layout.summary()}")
        run = entry.runs[rng.randrange(len(entry.runs))]
        epochs = len(run.curve)
        if progress is not None:
            for epoch, metrics in enumerate(run.curve, start=1):
                spent = run.train_seconds * epoch / epochs
                progress(Evaluation(metrics, epochs=epoch, train_seconds=spent))
        return Evaluation(run.val, epochs=epochs, train_seconds=run.train_seconds)


def table_evaluator(config: Any, file: str) -> TableEvaluator:
    """Evaluator factory ``table:FILE``: trials answered from the table in ``FILE``.

    Raises:
        TableError: no such table, or study options other than the table's.
    """
    table = load_table(file)
    check_matches(table, config.to_dict(), file)
    return TableEvaluator(table, file)
