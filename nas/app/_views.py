"""Text views of a study for the command line: the confirmed table, trial summaries."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import optuna

from nas.explore._objectives import feasible
from nas.study import TrialRecord
from nas.study._outcome.confirmed import CONFIRMED_VERSION, ConfirmedResult, ConfirmedRow
from nas.study._outcome.front import dominated
from nas.study._outcome.stats import Summary, summarize
from nas.study._roles import ROLES, role_of

__all__ = [
    "columns",
    "confirmed_table",
    "flagged_tasks",
    "health_warnings",
    "numerics_note",
    "trial_summary",
]


def _baseline(row: ConfirmedRow) -> bool:
    return ROLES[row.role].baseline


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


def row_name(result: ConfirmedResult, row: ConfirmedRow) -> str:
    """A confirmed row's name: a baseline's role, or ``#K search trial N`` (winner marked)."""
    if _baseline(row):
        win = ", winner" if row.finalist == result.winner else ""
        if ROLES[row.role].peer:  # a user's own peer is named by its import path
            name = row.layout.peer if row.role == "peer" else ROLES[row.role].name
            return f"{name} (peer{win})"
        return f"{ROLES[row.role].name} (baseline{win})"
    if result.cost_axis is None:
        return f"winner (search trial {row.source_trial})"
    win = ", winner" if row.finalist == result.winner else ""
    return f"#{row.finalist} (search trial {row.source_trial}{win})"


def _front_lines(result: ConfirmedResult, dom: Mapping[int, int]) -> list[str]:
    axis = {"flops": "FLOPs", "params": "parameters", "latency": "latency"}[str(result.cost_axis)]
    lines = [
        f"front: every finalist was tested; cost axis {axis}; * dominated: another tested "
        "layout costs no more and is better on paired test Δ_MTL (95% interval above zero)"
    ]
    rows = {r.finalist: r for r in result.rows}
    for k, by in sorted(dom.items()):
        lines.append(f"  {row_name(result, rows[k])} dominated by {row_name(result, rows[by])}")
    lines.append("export a point of the front with: mtlnas export NAME --front-point K (#K above)")
    return lines


def _baseline_lines(result: ConfirmedResult) -> list[str]:
    """What a reader must know when a baseline is the answer, or beat it on validation.

    Validation chooses among every layout within the budget, the baselines included; a baseline
    ahead of the winner on validation was therefore over the study's budget.
    """
    win = result.winner_row
    searched = [r for r in result.rows if not _baseline(r)]
    if _baseline(win) and not searched:
        return [
            f"winner: {ROLES[win.role].words}, a baseline: no layout the search tried "
            "beyond the baselines was within the budget; deploy them, or search with a larger "
            "budget"
        ]
    if _baseline(win):
        best = max(searched, key=lambda r: r.val_delta.mean, default=None)
        behind = "" if best is None else f" (the best of them {_pm(best.val_delta)})"
        kind, them = ("a network of another family", "it") if ROLES[win.role].peer else (
            "a baseline", "them")  # fmt: skip
        return [
            f"winner: {ROLES[win.role].words}, {kind}: on validation no searched "
            f"finalist beat {them}{behind}; deploy {them}, or search further"
        ]
    best = max((r for r in result.rows if _baseline(r)), key=lambda r: r.val_delta.mean)
    if best.val_delta.mean <= win.val_delta.mean:
        return []
    return [
        f"note: on validation {ROLES[best.role].words} "
        f"({_pm(best.val_delta)}) beat every searched finalist (the winner "
        f"{_pm(win.val_delta)}) but are over the study's budget"
    ]


def confirmed_table(result: ConfirmedResult, flagged: Iterable[str] = ()) -> str:
    """The confirmed result: test Δ_MTL (mean ± sd over the confirm seeds) and paired tests.

    Validation figures are marked as what the search and the winner's choice were made on;
    test figures come from the held-out split, read once after the winner was chosen.
    ``flagged``: the tasks that did not beat their trivial predictor in the search
    (:func:`flagged_tasks`); when that is every task, no paired verdict is given: Δ_MTL then
    compares networks that learned nothing.
    """
    seeds, tasks = result.seeds, result.tasks
    # A budget's equal-cost separate networks: each row's test Δ_MTL against them too.
    equal = result.role_row("independent_scaled") is not None
    dom = dominated(result)
    names = {
        row.finalist: row_name(result, row)
        + (" *" if result.cost_axis is not None and row.finalist in dom else "")
        for row in result.rows
    }
    wide = max(32, *(len(n) for n in names.values()))
    lines = [
        f"CONFIRMED (retrained with {len(seeds)} fresh seeds {seeds[0]}..{seeds[-1]}; "
        "mean ± sd over seeds; Δ_MTL paired with the same-seed independent networks)",
        f"{'layout':{wide}} {'TEST Δ_MTL':>16} {'95% interval':>18} {'val Δ_MTL (chose)':>18} "
        + (f"{'vs equal-cost sep.':>18} " if equal else "")
        + f"{'FLOPs / params':>15} {'latency b1 / b64':>16} "
        + " ".join(f"{(t.name + ' ' + t.primary)[-23:]:>24}" for t in tasks)
        + "   (per task: test split)",
    ]
    for row in result.rows:
        if not row.tested:
            continue
        name = names[row.finalist]
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
        against = result.against(row, "independent_scaled") if equal else None
        vs = f"{_pm(None if against is None else summarize(against)):>18} " if equal else ""
        lines.append(
            f"{name:{wide}} {_pm(test):>16} {interval:>18} {_pm(row.val_delta):>18} {vs}{cost:>15} "
            f"{fast:>16} {cells}"
        )
    for row in result.rows:
        if row.tested and row.role == "candidate":
            words = result.cost_words(row)
            of = f" ({words} of the independent networks)" if words else ""
            what = "winner" if result.cost_axis is None else row_name(result, row)
            lines.append(f"{what}: {row.summary}{of}")
    if result.latency_device and (base := result.independent.latency_ms):
        each = ", ".join(f"{ms:.2f} ms at batch {b}" for b, ms in sorted(base.items()))
        lines.append(
            f"latency: exported graphs under {result.latency_device}, median per batch, "
            f"side by side (machine-specific); independent networks {each}"
        )
    idle = {t.name for t in tasks} <= set(flagged)
    if idle:
        lines.append(
            "no verdict: no task beat its trivial predictor in most layouts the search trained, "
            "so Δ_MTL compares networks that learned nothing; check the losses, weights or "
            "epochs, then search again"
        )
    if equal:
        scaled = result.role_row("independent_scaled")
        assert scaled is not None
        lines.append(
            "equal cost: each baseline and peer at the widest width within the budget"
            + "".join(
                f"; {ROLES[role_of(r.role.removesuffix('_scaled'))].words} at "
                f"{r.layout.width:g}x width"
                for r in result.rows
                if r.layout.width != 1 and ROLES[r.role].baseline
            )
            + "; vs equal-cost sep.: test Δ_MTL against the same-seed independent networks "
            "at that width"
        )
    for other in result.baselines:
        if idle or other == result.winner_row.role:
            continue  # nothing to compare, or the winner itself
        paired = result.paired(other)
        p = paired.summary
        verdict = "better (95% interval above zero)" if paired.better else "not shown better"
        lines.append(
            f"paired test Δ_MTL, winner minus {ROLES[other].name}: "
            f"{100 * p.mean:+.2f} ± {100 * p.se:.2f} (SE) points over {p.n} seeds, "
            f"95% [{100 * p.low:+.2f}, {100 * p.high:+.2f}]: {verdict}"
        )
    if result.cost_axis is not None:
        lines += _front_lines(result, dom)
    elif not idle:
        lines += _baseline_lines(result)
    if result.version < CONFIRMED_VERSION:
        lines.append(
            "note: this verdict was chosen by an earlier rule, under which a baseline could not "
            "be the answer; mtlnas confirm on this study chooses again (nothing is retrained)"
        )
    for r in result.rows:
        if not r.tested:
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


def flagged_tasks(
    study: optuna.Study, trivial: Mapping[str, float] | None
) -> dict[str, tuple[int, int]]:
    """The tasks that did not beat their trivial predictor in most complete trials of ``study``.

    Returns:
        Task -> (layouts in which it missed, layouts trained).
    """
    if not trivial:
        return {}
    done = [
        r.beat_trivial
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if (r := TrialRecord.of(t)).beat_trivial is not None and r.duplicate_of is None
    ]
    flagged = {}
    for task in trivial:
        missed = sum(not b.get(task, True) for b in done)
        if done and missed > len(done) / 2:
            flagged[task] = (missed, len(done))
    return flagged


def health_warnings(study: optuna.Study, trivial: Mapping[str, float] | None) -> list[str]:
    """One line per task that did not beat its trivial predictor in most complete trials."""
    if not trivial:
        return []
    return [
        f"warning: task {task!r} did not beat its trivial predictor ({trivial[task]:.4f}) in "
        f"{missed} of the {done} layouts trained: check its loss, weights or epochs"
        for task, (missed, done) in flagged_tasks(study, trivial).items()
    ]


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
