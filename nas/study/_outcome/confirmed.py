"""The confirmed result, typed: what a confirm stage found, versioned like a trial record.

A :class:`ConfirmedResult` is computed once when the confirm stage ends and stored on the confirm
study as JSON (``to_dict``; results stored before the version field existed read as version 1).
Every reader (``show``, ``list``, the figures, export) goes through this type, never the JSON.

Example:
    >>> separate = Layout.independent(["a", "b"], 2)
    >>> row = ConfirmedRow(0, "independent", "all separate", separate, "equal", None, None,
    ...                    [0.0, 0.0], summarize([0.0, 0.0]), {0: 3, 1: 4})
    >>> ConfirmedRow.from_dict(row.to_dict()) == row
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.data._metrics import delta_mtl
from nas.study._outcome.stats import Summary, summarize
from nas.study._roles import ROLES, Role, role_of

__all__ = ["CONFIRMED_VERSION", "ConfirmedResult", "ConfirmedRow", "Paired", "TaskInfo"]

# Raise when a field changes meaning; readers refuse newer versions. 2: ``winner`` may be a
# baseline (version 1 chose among the searched finalists only; ``mtlnas confirm`` chooses again).
CONFIRMED_VERSION = 2


@dataclass(frozen=True)
class TaskInfo:
    """A task as the result reports it: its name, primary metric and direction."""

    name: str
    primary: str
    higher_is_better: bool


@dataclass(frozen=True)
class ConfirmedRow:
    """One finalist retrained with every confirm seed.

    Attributes:
        finalist: index in the plan (0 independent, 1 hard sharing, then a budget's equal-cost
            baselines, then the searched candidates).
        role: what it is (:data:`~nas.study._roles.Role`): a baseline or a searched layout.
        summary: the layout in words.
        source_trial: the search trial it came from (None for a baseline the search did not run).
        search_val_delta: its single-seed validation Δ_MTL in the search.
        val_deltas: validation Δ_MTL per confirm seed (what the winner is chosen on).
        runs: confirm seed -> the confirm study's trial number of that run.
        test_deltas, test_primary_runs: per seed on the test split; None when it was not tested
            (a candidate that was not chosen).
        params, flops: the layout's parameters and FLOPs per sample (the whole multi-task
            network, heads included); None in results stored before they were recorded.
        latency_ms: batch size -> median milliseconds per batch of its exported graph under
            onnxruntime (first confirm seed's weights), measured beside the other tested
            layouts on the machine that confirmed; None when not tested or not measured.
    """

    finalist: int
    role: Role
    summary: str
    layout: Layout
    loss_weighting: str
    source_trial: int | None
    search_val_delta: float | None
    val_deltas: list[float]
    val_delta: Summary
    runs: dict[int, int]
    test_deltas: list[float] | None = None
    test_primary_runs: list[dict[str, float]] | None = None
    params: int | None = None
    flops: int | None = None
    latency_ms: dict[int, float] | None = None

    @property
    def tested(self) -> bool:
        """Whether this finalist was scored on the test split."""
        return self.test_deltas is not None

    @property
    def test_delta(self) -> Summary | None:
        """Test Δ_MTL over the seeds; None when not tested."""
        return None if self.test_deltas is None else summarize(self.test_deltas)

    def test_primary(self, task: str) -> Summary | None:
        """A task's primary test metric over the seeds; None when not tested."""
        runs = self.test_primary_runs
        return None if runs is None else summarize([r[task] for r in runs])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the summaries too, for readers of the raw study)."""
        out: dict[str, Any] = {
            "finalist": self.finalist,
            "role": self.role,
            "summary": self.summary,
            "layout": self.layout.to_dict(),
            "loss_weighting": self.loss_weighting,
            "source_trial": self.source_trial,
            "search_val_delta": self.search_val_delta,
            "val_deltas": self.val_deltas,
            "val_delta": self.val_delta.to_dict(),
            "runs": {str(s): n for s, n in self.runs.items()},
        }
        if self.test_deltas is not None and self.test_primary_runs is not None:
            runs = self.test_primary_runs
            out["test_deltas"] = self.test_deltas
            out["test_delta"] = summarize(self.test_deltas).to_dict()
            out["test_primary"] = {t: summarize([r[t] for r in runs]).to_dict() for t in runs[0]}
            out["test_primary_runs"] = runs
        if self.params is not None and self.flops is not None:
            out["params"], out["flops"] = self.params, self.flops
        if self.latency_ms is not None:
            out["latency_ms"] = {str(b): ms for b, ms in self.latency_ms.items()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfirmedRow:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["finalist"], role_of(d["role"]), d["summary"], Layout.from_dict(d["layout"]),
            d.get("loss_weighting", "equal"),
            d.get("source_trial"), d.get("search_val_delta"), list(d["val_deltas"]),
            summarize(d["val_deltas"]), {int(s): int(n) for s, n in d["runs"].items()},
            d.get("test_deltas"), d.get("test_primary_runs"), d.get("params"), d.get("flops"),
            None if (ms := d.get("latency_ms")) is None else {int(b): v for b, v in ms.items()},
        )  # fmt: skip


@dataclass(frozen=True)
class Paired:
    """The winner's test Δ_MTL minus a baseline's, seed by seed."""

    diffs: list[float]

    @property
    def summary(self) -> Summary:
        """Mean, sd, SE and 95% interval of the differences."""
        return summarize(self.diffs)

    @property
    def better(self) -> bool:
        """Whether the 95% t interval of the differences lies above zero.

        The interval printed beside the verdict is the one decided on: with two seeds it is
        wide (t = 12.7), and a comparison it spans is not shown better. One seed: never.
        """
        return self.summary.low > 0


@dataclass(frozen=True)
class ConfirmedResult:
    """The confirm stage's answer: finalists over seeds, the winner, paired tests on test."""

    seeds: list[int]
    winner: int
    rows: list[ConfirmedRow]
    tasks: list[TaskInfo]
    version: int = field(default=CONFIRMED_VERSION)
    latency_device: str | None = None  # where latency_ms was measured (machine-specific)
    # The study's cost objective (flops, params, latency) when it confirmed a front: every
    # finalist is then tested, and nas.study._outcome.front says which ones are dominated.
    cost_axis: str | None = None

    @property
    def winner_row(self) -> ConfirmedRow:
        """The finalist chosen on mean validation Δ_MTL."""
        return self.rows[self.winner]

    def role_row(self, role: Role) -> ConfirmedRow | None:
        """The row of baseline ``role``; None when this result has none (no budget, or older)."""
        return next((r for r in self.rows if r.role == role), None)

    @property
    def baselines(self) -> list[Role]:
        """The baseline roles this result holds, in plan order."""
        return [r.role for r in self.rows if ROLES[r.role].baseline]

    def paired(self, role: Role) -> Paired:
        """The winner minus the baseline of ``role``, on test Δ_MTL, seed by seed."""
        base = self.role_row(role)
        if base is None:
            raise KeyError(f"this confirmed result has no {role!r} row")
        win, other = self.winner_row.test_deltas, base.test_deltas
        assert win is not None and other is not None, "the winner and baselines are tested"
        return Paired([w - b for w, b in zip(win, other, strict=True)])

    def against(self, row: ConfirmedRow, role: Role) -> list[float] | None:
        """``row``'s test Δ_MTL with baseline ``role``'s networks as the reference, per seed.

        Every Δ_MTL of the table is against the same-seed independent networks; this is the
        same measure against another baseline (the equal-cost independent networks: what the
        row gains over separate networks of its own cost). None when either is untested.
        """
        base = self.role_row(role)
        if base is None or row.test_primary_runs is None or base.test_primary_runs is None:
            return None
        up = {t.name: t.higher_is_better for t in self.tasks}
        return [
            delta_mtl(m, b, up)
            for m, b in zip(row.test_primary_runs, base.test_primary_runs, strict=True)
        ]

    def cost_ratio(self, row: ConfirmedRow) -> tuple[float, float] | None:
        """``row``'s (FLOPs, params) as multiples of the independent networks'; None if unknown."""
        base = self.independent
        if None in (row.flops, row.params, base.flops, base.params):
            return None
        assert row.flops is not None and row.params is not None  # for the type checker
        return row.flops / float(base.flops or 1), row.params / float(base.params or 1)

    def latency_ratio(self, row: ConfirmedRow) -> dict[int, float] | None:
        """``row``'s latency per batch size as multiples of the independent networks'."""
        mine, base = row.latency_ms, self.independent.latency_ms
        if mine is None or base is None:
            return None
        return {b: ms / base[b] for b, ms in mine.items() if base.get(b)}

    def cost_words(self, row: ConfirmedRow) -> str:
        """``row``'s cost in words, e.g. ``0.68x FLOPs, 0.92x params, 0.80x latency at batch 1``.

        Empty when nothing is known.
        """
        words = []
        if (ratio := self.cost_ratio(row)) is not None:
            words.append(f"{ratio[0]:.2f}x FLOPs, {ratio[1]:.2f}x params")
        if latency := self.latency_ratio(row):
            batches = sorted(latency)
            each = " / ".join(f"{latency[b]:.2f}x" for b in batches)
            words.append(f"{each} latency at batch {' / '.join(map(str, batches))}")
        return ", ".join(words)

    @property
    def independent(self) -> ConfirmedRow:
        """The independent networks' row: what every ratio is relative to."""
        return next(r for r in self.rows if r.role == "independent")

    def answer_run(self) -> int:
        """The confirm study's trial number of the winner's run with the first seed."""
        return self.winner_row.runs[self.seeds[0]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored on the confirm study."""
        paired = {}
        for role in self.baselines:
            p = self.paired(role)
            paired[role] = {
                **p.summary.to_dict(),
                "diffs": p.diffs,
                "interval_above_zero": p.better,
            }
        out: dict[str, Any] = {
            "version": self.version,
            "seeds": self.seeds,
            "winner": self.winner,
            "rows": [r.to_dict() for r in self.rows],
            "paired": paired,  # derived, kept for readers of the raw study
            "tasks": [
                {"name": t.name, "primary": t.primary, "higher_is_better": t.higher_is_better}
                for t in self.tasks
            ],
        }
        if self.latency_device is not None:
            out["latency_device"] = self.latency_device
        if self.cost_axis is not None:
            out["cost_axis"] = self.cost_axis
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfirmedResult:
        """Inverse of :meth:`to_dict`.

        Raises:
            UserError: the result was stored by a newer mtl-nas.
        """
        version = int(d.get("version", 1))
        if version > CONFIRMED_VERSION:
            raise UserError(
                f"this confirmed result has version {version}; this mtl-nas reads up to "
                f"{CONFIRMED_VERSION}: upgrade mtl-nas"
            )
        return cls(
            [int(s) for s in d["seeds"]],
            int(d["winner"]),
            [ConfirmedRow.from_dict(r) for r in d["rows"]],
            [TaskInfo(t["name"], t["primary"], bool(t["higher_is_better"])) for t in d["tasks"]],
            version,
            d.get("latency_device"),
            d.get("cost_axis"),
        )
