"""Text views of a study for the command line: the confirmed table, trial summaries."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import optuna

from nas.objectives import feasible
from nas.study import TrialRecord
from nas.study.confirmed import ConfirmedResult
from nas.study.stats import Summary

__all__ = ["columns", "confirmed_table", "health_warnings", "numerics_note", "trial_summary"]

_ROLE = {"independent": "independent (baseline)", "hard_sharing": "hard sharing (baseline)"}


def _pm(s: Summary | None, scale: float = 100.0, unit: str = "%", digits: int = 2) -> str:
    if s is None or s.n == 0:
        return ""
    mean, sd = scale * s.mean, scale * s.sd
    spread = "" if math.isnan(sd) else f" ± {sd:.{digits}f}"
    return f"{mean:+.{digits}f}{unit}{spread}" if unit == "%" else f"{mean:.{digits}f}{spread}"


def columns(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> list[str]:
    """Lines of a text table whose columns fit their longest entry, whatever the names.

    Columns in ``right`` are right-aligned (numbers); the last column is never padded.

    Example:
        >>> columns(["a", "n"], [["long name", "1"], ["b", "22"]], right={1})
        ['a           n', 'long name   1', 'b          22']
    """
    right = right or set()
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [
            c.rjust(w) if i in right else (c if i == len(r) - 1 else c.ljust(w))
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def confirmed_table(result: ConfirmedResult) -> str:
    """The confirmed result: test Δ_MTL (mean ± sd over the confirm seeds) and paired tests.

    Validation figures are marked as what the search and the winner's choice were made on;
    test figures come from the held-out split, read once after the winner was chosen.
    """
    seeds, tasks = result.seeds, result.tasks
    lines = [
        f"CONFIRMED (retrained with {len(seeds)} fresh seeds {seeds[0]}..{seeds[-1]}; "
        "mean ± sd over seeds; Δ_MTL paired with the same-seed independent networks)",
        f"{'layout':28} {'TEST Δ_MTL':>16} {'95% interval':>18} {'val Δ_MTL (chose)':>18} "
        f"{'FLOPs / params':>15} {'latency b1 / b64':>16} "
        + " ".join(f"{(t.name + ' ' + t.primary)[-23:]:>24}" for t in tasks)
        + "   (per task: test split)",
    ]
    for row in result.rows:
        if row.role == "candidate" and row.finalist != result.winner:
            continue
        name = _ROLE.get(row.role, f"winner (search trial {row.source_trial})")
        test = row.test_delta
        interval = (
            f"[{100 * test.low:+.2f}, {100 * test.high:+.2f}]"
            if test is not None and not math.isnan(test.low)
            else ""
        )
        cells = " ".join(f"{_pm(row.test_primary(t.name), 1.0, '', 4):>24}" for t in tasks)
        ratio = result.cost_ratio(row)
        cost = "" if ratio is None else f"{ratio[0]:.2f}x / {ratio[1]:.2f}x"
        latency = result.latency_ratio(row) or {}
        fast = " / ".join(f"{latency[b]:.2f}x" for b in sorted(latency))
        lines.append(
            f"{name:28} {_pm(test):>16} {interval:>18} {_pm(row.val_delta):>18} {cost:>15} "
            f"{fast:>16} {cells}"
        )
    win = result.winner_row
    words = result.cost_words(win)
    of = f" ({words} of the independent networks)" if words else ""
    lines.append(f"winner: {win.summary}{of}")
    if result.latency_device and (base := result.independent.latency_ms):
        each = ", ".join(f"{ms:.2f} ms at batch {b}" for b, ms in sorted(base.items()))
        lines.append(
            f"latency: exported graphs under {result.latency_device}, median per batch, "
            f"side by side (machine-specific); independent networks {each}"
        )
    for other in ("independent", "hard_sharing"):
        paired = result.paired(other)
        p = paired.summary
        verdict = "better (>= 2 SE above zero)" if paired.better else "not shown better"
        lines.append(
            f"paired test Δ_MTL, winner minus {other.replace('_', ' ')}: "
            f"{100 * p.mean:+.2f} ± {100 * p.se:.2f} (SE) points over {p.n} seeds, "
            f"95% [{100 * p.low:+.2f}, {100 * p.high:+.2f}]: {verdict}"
        )
    for r in result.rows:
        if r.role == "candidate" and r.finalist != result.winner:
            lines.append(
                f"also retrained: {r.summary} (search trial {r.source_trial}), "
                f"val Δ_MTL {_pm(r.val_delta)}: not chosen, not tested"
            )
    return "\n".join(lines)


def trial_summary(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The stored facts of one trial, for listings."""
    r = TrialRecord.of(trial)
    return {
        "number": trial.number,
        "state": trial.state.name,
        "layout": r.summary or "",
        "primary": r.primary or {},
        "delta_mtl": r.delta_mtl,
        "params": r.params,
        "flops": r.flops,
        "reason": r.reason,
        "baseline": r.baseline or "",
        "feasible": feasible(trial),
    }


def health_warnings(study: optuna.Study, trivial: Mapping[str, float] | None) -> list[str]:
    """One line per task that did not beat its trivial predictor in most complete trials."""
    if not trivial:
        return []
    done = [
        r.beat_trivial
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if (r := TrialRecord.of(t)).beat_trivial is not None and r.duplicate_of is None
    ]
    lines = []
    for task, score in trivial.items():
        missed = sum(not b.get(task, True) for b in done)
        if done and missed > len(done) / 2:
            lines.append(
                f"warning: task {task!r} did not beat its trivial predictor ({score:.4f}) in "
                f"{missed} of the {len(done)} layouts trained: check its loss, weights or epochs"
            )
    return lines


def numerics_note(trials: Iterable[optuna.trial.FrozenTrial], what: str) -> str | None:
    """A line when complete ``trials`` ran on more than one numeric set-up; None otherwise.

    One seed trains bit-identical weights only on one set-up (torch build, CPU capability and
    threads, or GPU): figures from several set-ups move within their seed noise on a rerun.
    """
    done = optuna.trial.TrialState.COMPLETE
    seen = sorted({str(r.numerics) for t in trials if t.state == done
                   and (r := TrialRecord.of(t)).numerics})  # fmt: skip
    if len(seen) < 2:
        return None
    return (
        f"note: the {what} ran on {len(seen)} numeric set-ups ({'; '.join(seen)}); one seed "
        "gives other bits on each, so a rerun reproduces their figures only within seed noise"
    )
