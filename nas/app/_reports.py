"""The reading commands: list the studies, show a leaderboard, plot figures, serve a dashboard."""

from __future__ import annotations

import argparse
import hashlib
import re
import signal
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.app._views import (
    columns,
    confirmed_table,
    flagged_tasks,
    health_warnings,
    numerics_note,
    trial_summary,
)
from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.study import (
    StorageError,
    StudyRecord,
    TrialRecord,
    artifact_store,
    best_trial,
    finished,
    is_internal,
    load_study,
    open_storage,
    study_config,
    trial_by_number,
)
from nas.study._roles import ROLES
from nas.study._store.record import (
    CONFIRM_SUFFIX,
    PROTOCOL_KEY,
    TABLE_KEY,
    TABLE_PLAN_KEY,
    TRIVIAL_KEY,
    refuse_stage,
)

__all__ = ["dashboard", "file_stem", "list_studies", "plot", "show"]


def list_studies(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas list``: one line per stored study."""
    storage = open_storage(args.storage)
    summaries = optuna.get_all_study_summaries(storage)
    if not summaries:
        print(f"no studies in {args.storage}; start one with: mtlnas search")
        return 0
    from nas.study import confirmed

    header = ["study", "benchmark", "space", "finished", "best val Δ_MTL", "confirmed test Δ_MTL"]
    rows, others = [], []
    for s in summaries:
        if is_internal(s.study_name):
            continue  # shown by mtlnas show of its search study
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        try:
            config = study_config(study)
        except UserError as err:
            half = StudyRecord(study).half_created()
            others.append(f"{s.study_name}: " + ("half-created; " if half else "") + str(err))
            continue
        best = ""
        if TABLE_KEY in study.user_attrs:  # a tabulation: runs, not a search's trials
            plan = StudyRecord(study).get(TABLE_PLAN_KEY) or {"layouts": [], "seeds": []}
            total = len(plan["layouts"]) * len(plan["seeds"])
            count = f"{finished(study)}/{total} runs"
            rows.append([s.study_name, config.benchmark, config.space, count, "(tabulation)", ""])
            continue
        if not config.multi_objective:
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if done:
                best = f"{100 * max(t.values[0] for t in done):+.2f}%"
        count = f"{finished(study)}/{config.n_trials}"
        table = confirmed(storage, s.study_name)
        test = ""
        if table is not None:
            win = table.winner_row.test_delta
            assert win is not None  # the winner is always tested
            test = f"{100 * win.mean:+.2f}% ± {100 * win.sd:.2f}"
            role = table.winner_row.role
            if ROLES[role].baseline:  # no searched layout beat this baseline on validation
                test += f": {ROLES[role].name} (baseline)"
            if role != "independent" and (words := table.cost_words(table.winner_row)):
                test += f" at {words}"
        rows.append([s.study_name, config.benchmark, config.space, count, best, test])
    if rows:
        print("\n".join(columns(header, rows, right={3, 4, 5})))
    for line in others:
        print(line)
    return 0


def _backbone_line(config: Any) -> str:
    options = ", ".join(f"{k}={v}" for k, v in config.backbone_options.items())
    name = config.backbone or "the benchmark's own"
    parts = [name + (f" ({options})" if options else "")]
    if config.pretrained:
        parts.append(f"pretrained from {config.pretrained}")
    if config.backbone_lr_mult != 1:
        parts.append(f"backbone lr x{config.backbone_lr_mult:g}")
    if config.bn_mode != "train":
        parts.append(f"batch norm {config.bn_mode}")
    return ", ".join(parts)


def show(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas show NAME``: the leaderboard, best first."""
    refuse_stage(args.name, "show")
    storage = open_storage(args.storage)
    study = load_study(storage, args.name)
    config = study_config(study)
    if TABLE_KEY in study.user_attrs:
        plan = StudyRecord(study).get(TABLE_PLAN_KEY) or {"layouts": [], "seeds": []}
        total = len(plan["layouts"]) * len(plan["seeds"])
        print(
            f"tabulation {args.name!r}: {config.benchmark} ({config.size or 'default size'}), "
            f"{config.space} space, {len(plan['layouts'])} layouts x {len(plan['seeds'])} seeds, "
            f"{finished(study)}/{total} runs finished; its table is written by the mtlnas "
            "tabulate command that built it (run it again to finish or rewrite the file)"
        )
        return 0
    rows = [trial_summary(t) for t in study.get_trials(deepcopy=False)]
    rows.sort(key=lambda r: (r["delta_mtl"] is None, -(r["delta_mtl"] or 0.0)))
    if not args.all:
        rows = rows[:15]
    tasks = list(StudyRecord(study).baseline() or {})
    print(
        f"study {args.name!r}: {config.benchmark} ({config.size or 'default size'}), "
        f"{config.space} space, "
        f"{finished(study)}/{config.n_trials} finished, objectives {config.objectives}"
    )
    budgets = {k: v for k, v in config.objective_options.items() if k.startswith("max_")}
    if budgets:
        typed = ",".join(f"{k}={v}" for k, v in config.max_cost.items())
        said = f" (--max-cost {typed})" if typed else ""
        each = ", ".join(f"{k.removeprefix('max_')} <= {v:,.0f}" for k, v in budgets.items())
        print(f"budget per sample: {each}{said}; layouts over it are marked and never the answer")
    if config.backbone or config.pretrained:
        print(f"backbone: {_backbone_line(config)}")
    if config.labels:
        kept = ", ".join(f"{t} {100 * share:g}%" for t, share in config.labels.items())
        print(f"training labels kept: {kept} (validation and test fully labelled)")
    from nas.study import confirm_progress, confirmed
    from nas.study._compute import study_compute

    table = confirmed(storage, args.name)
    runs: list[FrozenTrial] = []
    if table is not None:
        flagged = flagged_tasks(study, StudyRecord(study).get(TRIVIAL_KEY))
        print(confirmed_table(table, flagged))
        if (warning := StudyRecord(study).get(PROTOCOL_KEY)) is not None:
            print(warning)
        runs = load_study(storage, args.name + CONFIRM_SUFFIX).get_trials(deepcopy=False)
        if (note := numerics_note(runs, "confirm runs")) is not None:
            print(note)
        print("SEARCH LEADERBOARD (validation split, one seed per trial: what the search chose on)")
    elif (line := confirm_progress(storage, args.name)) is not None:
        print(line)
    for line in health_warnings(study, StudyRecord(study).get(TRIVIAL_KEY)):
        print(line)
    if (note := numerics_note(study.get_trials(deepcopy=False), "search trials")) is not None:
        print(note)
    if config.evaluator == "train":  # other evaluators' trials are not trainings
        print(study_compute(study, config.epochs, runs).line())
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        chosen = best_trial(study)
        use = "" if table is not None else "; what export and plot use unless --trial picks another"
        print(
            f"best on validation: trial {chosen.number} (Δ_MTL {100 * chosen.values[0]:+.2f}%{use})"
        )
    header = ["trial", "state", "Δ_MTL", "params", "MFLOPs", *tasks, "layout"]
    lines = []
    for r in rows:
        delta = "" if r["delta_mtl"] is None else f"{100 * r['delta_mtl']:+.2f}%"
        params = "" if r["params"] is None else str(r["params"])
        mflops = "" if r["flops"] is None else f"{r['flops'] / 1e6:.1f}"
        metrics = [f"{r['primary'][t]:.4f}" if t in r["primary"] else "" for t in tasks]
        note = f"  [{r['baseline']}]" if r["baseline"] else ""
        note += "" if r["feasible"] else "  [over budget]"
        reason = f"  ({r['reason']})" if r["reason"] else ""
        lines.append(
            [str(r["number"]), r["state"], delta, params, mflops, *metrics,
             f"{r['layout']}{note}{reason}"]
        )  # fmt: skip
    numeric = {0, 2, 3, 4, *range(5, 5 + len(tasks))}
    print("\n".join(columns(header, lines, right=numeric)))
    return 0


def plot(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas plot NAME``: history (or Pareto front), the chosen layout and the confirmed result.

    Writes PNGs into ``--out``: ``NAME-history.png`` (validation, confirmed points marked),
    ``NAME-pareto.png`` for a multi-objective study, ``NAME-trialN.png`` (the layout drawing;
    ``NAME-FAMILY.png`` when the winner is a peer, drawn as the rows it is built on)
    and, after a confirm stage, ``NAME-confirmed.png`` (test split, every seed), with
    ``NAME-front.png`` (test Δ_MTL against cost) when the study confirmed a front.
    """
    from nas.app._plots import figures
    from nas.study import confirmed

    refuse_stage(args.name, "plot")
    storage = open_storage(args.storage)
    study = load_study(storage, args.name)
    config = study_config(study)
    if TABLE_KEY in study.user_attrs:
        raise UserError(
            f"study {args.name!r} is a tabulation: it has no search history to plot; "
            "bench/strategies.py draws what strategies make of its table"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise StorageError(f"--out {out} is a file; give a folder for the figures")
    trial = best_trial(study) if args.trial is None else trial_by_number(study, args.trial)
    record = TrialRecord.of(trial)
    if record.layout is None:
        raise StorageError(f"trial {trial.number} has no layout stored ({trial.state.name})")
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(args.name)
    table = confirmed(storage, args.name)
    written = [figures.plot_history(study, out / f"{stem}-history.png", table)]
    if config.multi_objective:
        written.append(figures.plot_pareto(study, out / f"{stem}-pareto.png", table))
    if table is not None and args.trial is None:  # the confirmed winner, retrained
        row = table.winner_row
        layout = row.layout
        number, what = row.source_trial, "confirmed winner: search trial"
    else:
        layout, number, what = Layout.from_dict(record.layout), trial.number, "trial"
    if layout.peer:  # a peer has no search trial; its drawing is the rows it is built on
        title = f"{args.name}, confirmed winner: {layout.summary()} (its mixing is not drawn)"
        path = out / f"{stem}-{layout.peer.replace(':', '.')}.png"
    else:
        title = f"{args.name}, {what} {number}: {layout.summary()}"
        path = out / f"{stem}-trial{number}.png"
    written.append(figures.draw_layout(layout, path, title))
    if table is not None:
        from nas.app._plots.result_figure import plot_confirmed

        written.append(plot_confirmed(table, out / f"{stem}-confirmed.png", args.name))
        if table.cost_axis is not None:
            from nas.app._plots.front_figure import plot_front

            written.append(plot_front(table, out / f"{stem}-front.png", args.name))
    for path in written:
        print(path)
    return 0


def file_stem(name: str) -> str:
    """A study name made safe as a file name: no folders (``../``), no odd characters, short.

    Example:
        >>> file_stem("../etc/x y")
        '_etc_x_y'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "study"
    if len(stem) > 80:  # file names are limited to 255 bytes; keep them readable too
        stem = f"{stem[:64]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return stem


def dashboard(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas dashboard``: serve the storage with optuna-dashboard (optional extra)."""
    try:
        import optuna_dashboard
    except ImportError:
        raise FileNotFoundError(
            "optuna-dashboard is not installed; pip install 'mtl-nas[dashboard]'"
        ) from None
    # Open through our own checks first, so a wrong URL is a one-line error, not a server that
    # starts and then fails on every page.
    storage = open_storage(args.storage, create=False)
    store = artifact_store(args.storage, args.artifacts)
    where = f"http://{args.host}:{args.port}"
    print(f"serving {args.storage} on {where} (Ctrl-C stops)", file=sys.stderr)
    # A server that only reads: SIGTERM ends it at once, as by default (its request threads
    # would keep an unwinding interpreter waiting).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        optuna_dashboard.run_server(storage, host=args.host, port=args.port, artifact_store=store)
    except OSError as e:  # the port is taken, or the host cannot be bound
        raise StorageError(f"cannot serve on {where} ({e}); pick another --port") from e
    except KeyboardInterrupt:
        pass
    return 0
