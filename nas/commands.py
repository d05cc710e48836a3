"""What each ``mtlnas`` command does, given parsed arguments."""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from nas.errors import UserError
from nas.evaluators import make_evaluator
from nas.faults import describe_fault, is_interrupt
from nas.layout import Layout
from nas.problem import Problem
from nas.study.config import SearchConfig
from nas.study.confirm import CONFIRM_SUFFIX
from nas.study.create import create_or_resume, finished, prepare, study_config
from nas.study.pick import best_trial, trial_by_number
from nas.study.record import StudyRecord, TrialRecord
from nas.study.search import run_search
from nas.study.storage import StorageError, artifact_store, load_study, open_storage
from nas.train import pick_device
from nas.views import confirmed_table, trial_summary

__all__ = [
    "USER_ERRORS",
    "confirm",
    "dashboard",
    "list_studies",
    "plot",
    "resume",
    "search",
    "show",
]

# Errors that are the user's to fix: one line, exit status 2, no traceback. Anything else is
# a bug and keeps its traceback.
USER_ERRORS = (UserError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
optuna.logging.set_verbosity(optuna.logging.WARNING)


class _OneLinePerTrial(logging.Filter):
    """Optuna logs a failed trial's whole traceback; its reason is stored and shown by ``show``.

    Kept: one line per failed trial. Dropped: the traceback, the repeated "failed with value
    None" line, and everything about an interrupt or a machine fault (the command prints its
    own one line for those).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        err = record.exc_info[1] if record.exc_info else None
        if err is not None and (is_interrupt(err) or describe_fault(err) is not None):
            return False
        if "failed with value None" in record.getMessage():
            return False
        record.exc_info, record.exc_text = None, None
        return True


for _handler in logging.getLogger("optuna").handlers:
    _handler.addFilter(_OneLinePerTrial())


def _start(args: argparse.Namespace, given: dict[str, Any], create: bool) -> int:
    # Everything the user typed is checked before the database is touched.
    if getattr(args, "name", None) is not None and not args.name.strip():
        raise UserError("--name is empty; give the study a name, or leave --name out")
    device = pick_device(args.device)
    config = SearchConfig(**given) if create else None
    parts = prepare(config, device) if config is not None else None
    if config is not None:
        make_evaluator(config)  # an unknown evaluator is refused before the database is touched
    storage = open_storage(args.storage, args.heartbeat, create=create)
    name = args.name
    if config is not None:
        name = name if name is not None else f"{config.benchmark.replace(':', '.')}-{config.space}"
    space = parts[1] if parts is not None else None
    study, stored = create_or_resume(storage, name, config, given, space, args.storage)
    if parts is None or config is None or not _same_except_target(stored, config):
        parts = prepare(stored, device)  # the stored configuration rules an existing study
    config, (problem, space) = stored, parts
    done = finished(study)
    if done >= config.n_trials:
        print(
            f"study {name!r} already has {done} finished trials (target {config.n_trials}); "
            f"raise it with: mtlnas resume {shlex.quote(name)} --n-trials N"
        )
        if args.no_confirm:
            return 0
        return _confirm(args, storage, study, config, problem)
    print(
        f"study {name!r} in {args.storage}: {done}/{config.n_trials} trials finished, "
        f"training on {device}"
    )
    store = artifact_store(args.storage, args.artifacts)
    run_search(study, config, problem, space, store, not args.quiet, args.storage)
    _print_best(study, config)
    if args.no_confirm:
        q = shlex.quote(name)
        print(f"next: mtlnas confirm {q}   |   mtlnas show {q}")
        return 0
    return _confirm(args, storage, study, config, problem)


def _confirm(
    args: argparse.Namespace,
    storage: optuna.storages.BaseStorage,
    study: optuna.Study,
    config: SearchConfig,
    problem: Problem,
) -> int:
    from nas.study.verdict import run_confirm

    top, seeds = getattr(args, "confirm_top", None), getattr(args, "confirm_seeds", None)
    print(f"confirming on fresh seeds, then the test split: study {study.study_name!r}")
    store = artifact_store(args.storage, args.artifacts)
    table = run_confirm(
        storage, study, config, problem, store, top, seeds, args.storage, not args.quiet
    )
    print(confirmed_table(table))
    q = shlex.quote(study.study_name)
    print(f"next: mtlnas show {q}   |   mtlnas export {q} -o model.onnx")
    return 0


def confirm(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas confirm NAME``: retrain the finalists with fresh seeds, then test once."""
    device = pick_device(args.device)
    storage = open_storage(args.storage, args.heartbeat)
    study = load_study(storage, args.name)
    config = study_config(study)
    done = finished(study)
    if done < config.n_trials:
        print(
            f"note: study {args.name!r} has {done}/{config.n_trials} finished trials; "
            "confirming its best so far"
        )
    problem, _ = prepare(config, device)
    return _confirm(args, storage, study, config, problem)


def _same_except_target(a: SearchConfig, b: SearchConfig) -> bool:
    return {**a.to_dict(), "n_trials": 0} == {**b.to_dict(), "n_trials": 0}


def search(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas search``: create a study (or continue one with the same configuration)."""
    return _start(args, given, create=True)


def resume(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas resume NAME``: continue until the stored target count is reached."""
    return _start(args, given, create=False)


def _print_best(study: optuna.Study, config: SearchConfig) -> None:
    if config.multi_objective:
        front = sorted(study.best_trials, key=lambda t: t.values[1])
        print(f"Pareto front ({len(front)} trials): Δ_MTL vs {config.metric_names[1]}")
        for t in front:
            print(
                f"  trial {t.number}: Δ_MTL {100 * t.values[0]:+.2f}%  "
                f"{config.metric_names[1]} {t.values[1]:.3g}  {t.user_attrs.get('summary')}"
            )
        return
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        hint = "mtlnas show " + shlex.quote(study.study_name)
        print("no trial completed; see the reasons with: " + hint)
        return
    best = best_trial(study)
    print(
        f"best on validation: trial {best.number}, Δ_MTL {100 * best.values[0]:+.2f}%  "
        f"{TrialRecord.of(best).summary}"
    )


def list_studies(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas list``: one line per stored study."""
    storage = open_storage(args.storage)
    summaries = optuna.get_all_study_summaries(storage)
    if not summaries:
        print(f"no studies in {args.storage}; start one with: mtlnas search")
        return 0
    from nas.study.verdict import confirmed

    header = f"{'study':30} {'benchmark':12} {'space':9} {'finished':>9} {'best val Δ_MTL':>15}"
    print(header + f" {'confirmed test Δ_MTL':>21}")
    for s in summaries:
        if s.study_name.endswith(CONFIRM_SUFFIX):
            continue  # shown by mtlnas show of its search study
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        try:
            config = study_config(study)
        except UserError:
            print(f"{s.study_name:30} (not an mtl-nas study)")
            continue
        best = ""
        if not config.multi_objective:
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if done:
                best = f"{100 * max(t.values[0] for t in done):+.2f}%"
        count = f"{finished(study)}/{config.n_trials}"
        table = confirmed(storage, s.study_name)
        test = ""
        if table is not None:
            win = table["rows"][table["winner"]]["test_delta"]
            test = f"{100 * win['mean']:+.2f}% ± {100 * win['sd']:.2f}"
        print(
            f"{s.study_name:30} {config.benchmark:12} {config.space:9} {count:>9} {best:>15} "
            f"{test:>21}"
        )
    return 0


def show(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas show NAME``: the leaderboard, best first."""
    storage = open_storage(args.storage)
    study = load_study(storage, args.name)
    config = study_config(study)
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
    from nas.study.verdict import confirm_progress, confirmed

    table = confirmed(storage, args.name)
    if table is not None:
        print(confirmed_table(table))
        print("SEARCH LEADERBOARD (validation split, one seed per trial: what the search chose on)")
    elif (line := confirm_progress(storage, args.name)) is not None:
        print(line)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        chosen = best_trial(study)
        use = "" if table is not None else "; what export and plot use unless --trial picks another"
        print(
            f"best on validation: trial {chosen.number} (Δ_MTL {100 * chosen.values[0]:+.2f}%{use})"
        )
    header = f"{'trial':>5} {'state':8} {'Δ_MTL':>8} {'params':>9} {'MFLOPs':>8} "
    print(header + " ".join(f"{t[:12]:>12}" for t in tasks) + "  layout")
    for r in rows:
        delta = "" if r["delta_mtl"] is None else f"{100 * r['delta_mtl']:+.2f}%"
        params = "" if r["params"] is None else str(r["params"])
        mflops = "" if r["flops"] is None else f"{r['flops'] / 1e6:.1f}"
        metrics = " ".join(
            f"{r['primary'][t]:12.4f}" if t in r["primary"] else " " * 12 for t in tasks
        )
        note = f"  [{r['baseline']}]" if r["baseline"] else ""
        reason = f"  ({r['reason']})" if r["reason"] else ""
        print(
            f"{r['number']:>5} {r['state'][:8]:8} {delta:>8} {params:>9} {mflops:>8} "
            f"{metrics}  {r['layout']}{note}{reason}"
        )
    return 0


def plot(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas plot NAME``: history (or Pareto front) and the chosen layout, as PNG."""
    from nas import figures

    storage = open_storage(args.storage)
    study = load_study(storage, args.name)
    config = study_config(study)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise StorageError(f"--out {out} is a file; give a folder for the figures")
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(args.name)
    trial = best_trial(study) if args.trial is None else trial_by_number(study, args.trial)
    record = TrialRecord.of(trial)
    if record.layout is None:
        raise StorageError(f"trial {trial.number} has no layout stored ({trial.state.name})")
    written = [figures.plot_history(study, out / f"{stem}-history.png")]
    if config.multi_objective:
        written.append(figures.plot_pareto(study, out / f"{stem}-pareto.png"))
    from nas.study.verdict import confirmed

    table = confirmed(storage, args.name) if args.trial is None else None
    if table is not None:  # the confirmed winner (a search trial's layout, retrained)
        row = table["rows"][table["winner"]]
        layout = Layout.from_dict(row["layout"])
        number, what = row["source_trial"], "confirmed winner, trial"
    else:
        layout, number, what = Layout.from_dict(record.layout), trial.number, "trial"
    title = f"{what} {number}: {layout.summary()}"
    written.append(figures.draw_layout(layout, out / f"{stem}-trial{number}.png", title))
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
    try:
        optuna_dashboard.run_server(storage, host=args.host, port=args.port, artifact_store=store)
    except OSError as e:  # the port is taken, or the host cannot be bound
        raise StorageError(f"cannot serve on {where} ({e}); pick another --port") from e
    except KeyboardInterrupt:
        pass
    return 0
