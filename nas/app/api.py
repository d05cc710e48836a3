"""The three jobs from Python: start a search, resume it, export its answer.

The ``mtlnas search``, ``resume`` and ``export`` commands are these functions with their
arguments read from the command line; both print the same progress lines.

Example:
    >>> import nas
    >>> result = nas.search("demo", benchmark="digits", size="tiny", n_trials=3, epochs=1,
    ...                     storage="sqlite:///demo.db", progress=False,
    ...                     confirm_top=1, confirm_seeds=2)  # doctest: +SKIP
    >>> result.confirmed.winner_row.summary  # doctest: +SKIP
    >>> nas.export("demo", "demo.onnx", storage="sqlite:///demo.db")  # doctest: +SKIP

docs/api.md runs this example (its test does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import optuna

from nas.app._console import show_messages
from nas.app._jobs import Best, RunOptions, SearchResult, run
from nas.app._options import python_options
from nas.core._errors import UserError
from nas.core._faults import describe_fault, is_interrupt
from nas.data._benchmark import Benchmark
from nas.study import (
    SearchConfig,
    StorageError,
    artifact_store,
    is_internal,
    load_study,
    open_storage,
    study_config,
)
from nas.study._outcome.peers import parse_peers
from nas.study._store.delete import Deleted
from nas.study._store.record import refuse_stage
from nas.study._store.storage import DEFAULT_STORAGE

__all__ = ["Best", "SearchResult", "delete", "export", "resume", "search"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _user_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """A missing file, a read-only database or a full disk become one UserError, as in the CLI."""

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except UserError:
            raise
        except Exception as err:
            fault = describe_fault(err)
            if fault is None and isinstance(err, _OS_ERRORS):
                fault = str(err)
            if fault is None or is_interrupt(err):
                raise
            raise UserError(fault) from err

    return call


_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _console() -> None:
    # As on the command line: mtl-nas's own messages shown, Optuna's per-trial lines not (each
    # trial's result is in the study; the progress bar says how far it is).
    show_messages()
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@_user_errors
def search(
    name: str | None = None,
    *,
    storage: str = DEFAULT_STORAGE,
    benchmark: str | Benchmark | Callable[..., Benchmark] = "scenes",
    confirm: bool = True,
    confirm_top: int | None = None,
    confirm_seeds: int | None = None,
    confirm_peers: str | Sequence[str] | None = None,
    latency_repeats: int | None = None,
    device: str = "auto",
    artifacts: str | None = None,
    heartbeat: int | None = None,
    progress: bool = True,
    devices: str | None = None,
    per_device: int | None = None,
    **options: Any,
) -> SearchResult:
    """Start the search study ``name`` (or continue one made with the same options).

    Args:
        name: the study's name (default ``{benchmark}-{space}``).
        storage: any SQLAlchemy URL; SQLite by default, PostgreSQL for many workers.
        benchmark: a built-in name, ``package.module:function``, or your own
            :class:`~nas.Benchmark` (or a factory returning one). A factory with an import
            path is stored by it (any process resumes the study); an object is known only to
            this process: pass it again to :func:`resume`.
        confirm: then retrain the finalists with fresh seeds and read the test split once.
        confirm_top: finalists to retrain besides the two baselines (default 2).
        confirm_seeds: fresh seeds per finalist (default 5).
        confirm_peers: networks of other families retrained beside the baselines
            (:mod:`nas.model.peers`): names such as ``["mtan", "mmoe"]``, ``"none"``, or None
            for every built-in that fits the backbone (scaled to a parameter or FLOP budget).
        latency_repeats: timed onnxruntime runs per tested layout and batch size when the
            confirmed result is computed (default 30; 0 skips the latency figures).
        device: ``auto`` (CUDA if present), ``cpu`` or ``cuda[:N]``.
        artifacts: folder of trial weights (default ``artifacts/`` beside a SQLite file).
        heartbeat: seconds between trial heartbeats.
        progress: progress bars over trials and epochs.
        devices: train in one child process per slot: ``cpu``, ``all`` (every GPU) or
            ``cuda:0,cuda:1``; this process shows their progress, then decides. None: here.
        per_device: slots per device of ``devices`` (default 1).
        **options: :class:`~nas.SearchConfig` fields: ``n_trials``, ``epochs``, ``space``,
            ``strategy``, ``size``, ``tasks``, ...

    Raises:
        UserError: an unknown option or a bad value, named in one line, before the database
            is touched.
    """
    _console()
    if name is not None:
        _check_name(name)
    slots, device = _slots(devices, per_device, device, benchmark)
    options = python_options(options)
    options["benchmark"] = _benchmark_name(benchmark)
    known = {f.name for f in fields(SearchConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UserError(
            f"unknown search option {unknown[0]!r}; the options are SearchConfig's fields: "
            + ", ".join(sorted(known))
        )
    if name is not None and is_internal(name):
        raise UserError(
            f"study names ending in {name[len(name.rsplit(':', 1)[0]) :]!r} are kept for the "
            "stages mtl-nas runs beside a search; choose another name"
        )
    config = SearchConfig(**options)
    name = name if name is not None else f"{config.benchmark.replace(':', '.')}-{config.space}"
    how = RunOptions(storage=storage, device=device, artifacts=artifacts, heartbeat=heartbeat,
                     progress=progress, confirm=confirm, confirm_top=confirm_top,
                     confirm_seeds=confirm_seeds, latency_repeats=latency_repeats,
                     confirm_peers=parse_peers(confirm_peers), devices=tuple(slots))  # fmt: skip
    return run(name, config, options, how)


@_user_errors
def resume(
    name: str,
    *,
    storage: str = DEFAULT_STORAGE,
    n_trials: int | None = None,
    benchmark: Benchmark | Callable[..., Benchmark] | None = None,
    confirm: bool = True,
    confirm_top: int | None = None,
    confirm_seeds: int | None = None,
    confirm_peers: str | Sequence[str] | None = None,
    latency_repeats: int | None = None,
    device: str = "auto",
    artifacts: str | None = None,
    heartbeat: int | None = None,
    progress: bool = True,
    devices: str | None = None,
    per_device: int | None = None,
) -> SearchResult:
    """Continue study ``name`` from its database to its target (``n_trials`` raises it).

    Args:
        name: the study.
        storage: its database URL.
        n_trials: a new target; the stored one by default.
        benchmark: your own benchmark object again, for a study started with one.
        confirm: then run (or finish) the confirm stage.
        confirm_top: finalists besides the baselines, for a confirm stage not yet planned.
        confirm_seeds: seeds per finalist, likewise.
        confirm_peers: peer families (as :func:`search`); named for a confirm stage planned
            without them, they are added to it.
        latency_repeats: timed onnxruntime runs per tested layout (default 30; 0: none).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        artifacts: folder of trial weights.
        heartbeat: seconds between trial heartbeats.
        progress: progress bars.
        devices: one child process per slot (``cpu``, ``all``, ``cuda:0,cuda:1``).
        per_device: slots per device of ``devices`` (default 1).

    Every other option is the study's own, read from its database.
    """
    _console()
    _check_name(name)
    slots, device = _slots(devices, per_device, device, benchmark)
    if benchmark is not None:
        _benchmark_name(benchmark)
    n_trials = _integer("n_trials", n_trials)
    given = {} if n_trials is None else {"n_trials": n_trials}
    how = RunOptions(storage=storage, device=device, artifacts=artifacts, heartbeat=heartbeat,
                     progress=progress, confirm=confirm, confirm_top=confirm_top,
                     confirm_seeds=confirm_seeds, latency_repeats=latency_repeats,
                     confirm_peers=parse_peers(confirm_peers), devices=tuple(slots))  # fmt: skip
    return run(name, None, given, how)


@_user_errors
def export(
    name: str,
    path: str | Path,
    *,
    storage: str = DEFAULT_STORAGE,
    artifacts: str | None = None,
    trial: int | None = None,
    front_point: int | None = None,
    fp16: bool = False,
) -> Any:
    """Write study ``name``'s answer (the confirmed winner, else the best trial) to ONNX.

    Checked with ``onnx.checker`` and against PyTorch under onnxruntime before it is written.
    Returns the :class:`export._onnx.ExportReport` (path, trial, parity per batch size).
    """
    _console()
    from export._onnx import export_trial
    from nas.study import answer

    _check_name(name)
    refuse_stage(name, "export")
    if not isinstance(path, (str, Path)) or not str(path):
        raise UserError(f"path must be the .onnx file to write, got {path!r}")
    trial, front_point = _integer("trial", trial), _integer("front_point", front_point)
    db = open_storage(storage)
    study = load_study(db, name)
    study_config(study)  # names a half-created study (or one not made by mtl-nas) first
    study, chosen = answer(db, study, trial, front_point)
    store = artifact_store(storage, artifacts, create=False)
    return export_trial(study, chosen, store, Path(path), fp16=fp16)


@_user_errors
def delete(name: str, *, storage: str = DEFAULT_STORAGE, artifacts: str | None = None) -> Deleted:
    """Delete study ``name``, its confirm stage, and their files in the artifact store.

    Stop the study's workers first: a running trial would write to a study that is gone.

    Returns:
        What was removed (:class:`~nas.study._store.delete.Deleted`).

    Raises:
        UserError: no such study, or ``name`` is a stage kept beside a search.
    """
    _console()
    from nas.study._store.delete import delete_study

    _check_name(name)
    refuse_stage(name, "delete")
    db = open_storage(storage)
    load_study(db, name)  # names the stored studies when there is none of that name
    try:
        store = artifact_store(storage, artifacts, create=False)
    except StorageError:  # no artifact folder: nothing stored there to remove
        store = None
    return delete_study(db, name, store)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"the study name must be a non-empty string, got {name!r}")


def _integer(arg: str, value: object) -> int | None:
    # The command line's form is accepted too: trial="3" is trial 3.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise UserError(f"{arg} must be an integer, got {value!r}")


def _slots(
    devices: str | None,
    per_device: int | None,
    device: str,
    benchmark: str | Benchmark | Callable[..., Benchmark] | None,
) -> tuple[list[str], str]:
    from nas.app._slots import resolve_slots

    slots, device = resolve_slots(devices, per_device, device)
    known = (
        benchmark is None
        or isinstance(benchmark, str)
        or (not isinstance(benchmark, Benchmark) and _import_path(benchmark) is not None)
    )
    if slots and not known:  # the child processes could not build it
        raise UserError(
            "devices= starts child processes, which know a benchmark by name or import path "
            "only; give the benchmark as package.module:function, or leave devices out"
        )
    return slots, device


def _benchmark_name(benchmark: str | Benchmark | Callable[..., Benchmark]) -> str:
    # An object is registered under its name for this process, so a study can store a name.
    if isinstance(benchmark, str):
        return benchmark
    from nas.data._benchmark import register_benchmark

    if isinstance(benchmark, Benchmark):
        made = benchmark
        register_benchmark(made.name)(lambda **_: made)  # made already: size, seed unused
        return made.name
    if callable(benchmark):
        path = _import_path(benchmark)
        if path is not None:  # stored as its import path, so the shell can resume the study
            return path
        name = getattr(benchmark, "__name__", "benchmark")
        register_benchmark(name)(benchmark)
        return name
    raise UserError(
        f"benchmark must be a name, a nas.Benchmark or a function returning one, got "
        f"{type(benchmark).__name__}"
    )


def _import_path(fn: Callable[..., Any]) -> str | None:
    """``package.module:function`` when ``fn`` can be imported back by that path, else None."""
    import importlib

    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or not qualname.isidentifier():
        return None  # a script's function, a lambda, a closure or a method
    try:
        found = getattr(importlib.import_module(module), qualname, None)
    except ImportError:
        return None
    return f"{module}:{qualname}" if found is fn else None
