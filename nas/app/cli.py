"""The ``mtlnas`` command line: start a search, resume it, inspect it, export the winner."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from nas.app._options import add_config_args, given_options
from nas.core._plugins import listing

__all__ = ["main"]


def _storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage",
        default="sqlite:///studies.db",
        help="SQLAlchemy URL of the study database (default sqlite:///studies.db)",
    )
    p.add_argument(
        "--artifacts",
        default=None,
        help="folder of trial weights (default: artifacts/ beside a SQLite file)",
    )


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, or cuda[:N]")
    p.add_argument(
        "--heartbeat",
        type=int,
        default=None,
        help="seconds between trial heartbeats; a dead trial is retried after 3x",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _confirm_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(
        f"--{prefix}top",
        dest="confirm_top",
        type=int,
        default=None,
        help="finalists to retrain besides the two baselines: the search's best distinct "
        "layouts (default 2); with a cost objective, layouts spread along its validation "
        "front, every one tested (default 3)",
    )
    p.add_argument(
        f"--{prefix}seeds",
        dest="confirm_seeds",
        type=int,
        default=None,
        help="fresh training seeds per finalist (default 5)",
    )
    p.add_argument(
        f"--{prefix}peers",
        dest="confirm_peers",
        default=None,
        metavar="LIST",
        help="networks of other families retrained beside the baselines, comma-separated, or "
        f"none: {listing('peer')}, or package.module:function (default: every built-in that "
        "fits the backbone, scaled to a parameter or FLOP budget); named for a confirm stage "
        "planned without them, they are added to it",
    )
    p.add_argument(
        f"--{prefix}latency-repeats",
        dest="latency_repeats",
        type=int,
        default=None,
        metavar="N",
        help="timed onnxruntime runs per tested layout at batch 1 and 64 when the confirmed "
        "result is computed (default 30; 0 skips the latency figures)",
    )


def _retrain_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--retrain",
        action="store_true",
        help="train again what the artifact store lost (missing or corrupt files): confirm "
        "runs (same seeds; nothing else; the confirmed table is then computed again) and, "
        "when searching, the supernet's checkpoint",
    )


def _search_args(p: argparse.ArgumentParser) -> None:
    """Options of the commands that run a search: search, resume, worker."""
    _storage_args(p)
    _run_args(p)
    _retrain_arg(p)
    p.add_argument(
        "--no-confirm",
        action="store_true",
        help="stop after the search; do not retrain the finalists and score the test split",
    )
    _confirm_args(p, "confirm-")
    p.add_argument(
        "--devices",
        default=None,
        help="train in one process per slot: cpu, all (every GPU), or cuda:0,cuda:1; each "
        "process pinned to its device and its share of the CPU cores, one progress bar",
    )
    p.add_argument(
        "--per-device",
        type=int,
        default=None,
        metavar="K",
        help="slots per device of --devices (default 1)",
    )
    add_config_args(p)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (built on demand, never at import)."""
    from nas import __version__

    parser = argparse.ArgumentParser(
        prog="mtlnas",
        description="Search how tasks share a network; resume from the database; export to ONNX.",
    )
    parser.add_argument("--version", action="version", version=f"mtl-nas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_env = (
        "how data are read (environment): MTLNAS_DATA=auto|resident|streamed (auto: a Dataset "
        "split is read into memory when it fits MTLNAS_RESIDENT_GB, default 2, else streamed), "
        "MTLNAS_WORKERS=N loader processes (default: spare cores, up to 4)"
    )

    p = sub.add_parser(
        "search",
        help="start a study (or continue one with the same config)",
        description="Start a search study, then confirm its best layouts on fresh seeds and "
        "the test split. With no options: the scenes benchmark, the branched space, the paths "
        "strategy, 20 trials "
        "of 6 epochs, sqlite:///studies.db, 2 finalists x 5 seeds.",
        epilog=data_env,
    )
    p.add_argument("--name", default=None, help="study name (default: BENCHMARK-SPACE)")
    _search_args(p)

    p = sub.add_parser(
        "resume",
        help="continue a stored study until its target is reached",
        description="Resume a study from the database; only its name is needed. "
        "--n-trials raises the target; other options must match the stored ones.",
        epilog=data_env,
    )
    p.add_argument("name", help="study name")
    _search_args(p)

    p = sub.add_parser(
        "worker",
        help="join a study as one more worker (same as resume)",
        description="Work on a stored study beside other processes, on this "
        "machine or others sharing the database (e.g. --storage "
        "postgresql+psycopg://...). --devices starts one per slot on this machine.",
    )
    p.add_argument("name", help="study name")
    _search_args(p)
    # A device slot of `search --devices`: train trials; the parent summarises.
    p.add_argument("--runs-only", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser(
        "confirm",
        help="retrain the best layouts and baselines with fresh seeds; score the test split",
        description="The confirm stage (run by search and resume at their end): retrain the "
        "search's top distinct layouts, both baselines and the peers (networks of the other "
        "families) from scratch with seeds the search never used, choose the winner by mean "
        "validation Δ_MTL (a baseline or peer within the budget is the winner when no "
        "searched layout beats it), then score the winner, the baselines and the peers once "
        "on the test split. Resumable; workers may share it. On a study confirmed by an "
        "earlier version, chooses again from the stored runs; --peers adds peers to it.",
    )
    p.add_argument("name", help="study name")
    _confirm_args(p)
    _retrain_arg(p)
    _storage_args(p)
    _run_args(p)
    # A device slot of `search --devices`: train missing runs; the parent decides and prints.
    p.add_argument("--runs-only", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser(
        "tabulate",
        help="train every layout of a space with several seeds; write a table file",
        description="Build a ground-truth table: every distinct layout of the space (e.g. "
        "--space-option split_depths=[0,2,4,6]) trained with --seeds seeds at the study's "
        "budget, with per-epoch validation scores, validation and test metrics, Δ_MTL against "
        "the same-seed independent networks, cost and training time. A study like any other: "
        "run the same command again to resume it, or beside it as more workers.",
    )
    p.add_argument("--name", required=True, help="tabulation study name")
    p.add_argument("--seeds", type=int, default=None, help="training seeds per layout (default 3)")
    p.add_argument(
        "-o", "--out", default=None, help="table file to write (default NAME.table.json)"
    )
    _storage_args(p)
    _run_args(p)
    add_config_args(p)

    p = sub.add_parser("list", help="list the stored studies")
    _storage_args(p)

    p = sub.add_parser(
        "delete",
        help="delete a study, the stages kept beside it and their stored weights",
        description="Delete a study from the database with its confirm stage, and remove its "
        "files (trial weights, checkpoints) from the artifact store. Stop its workers first.",
    )
    p.add_argument("name", help="study name")
    _storage_args(p)

    p = sub.add_parser("show", help="leaderboard of a study")
    p.add_argument("name", help="study name")
    p.add_argument("--all", action="store_true", help="every trial, not only the top 15")
    _storage_args(p)

    p = sub.add_parser("plot", help="write figures: history, Pareto front, layouts (PNG)")
    p.add_argument("name", help="study name")
    p.add_argument("--trial", type=int, default=None, help="draw this trial (default: the best)")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    _storage_args(p)

    p = sub.add_parser("dashboard", help="serve the studies with optuna-dashboard (web page)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)"
    )
    _storage_args(p)

    from export._cli import add_export_commands

    add_export_commands(sub, _storage_args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtlnas`` console script; returns the exit status."""
    from nas.app._console import show_messages
    from nas.core._faults import is_interrupt, signals_as_interrupts

    show_messages()
    # From the first line on, a SIGTERM (a scheduler, a preempted machine) or Ctrl-C ends in one
    # line, even while the parser and the libraries are still being imported.
    command = ""  # not known until the arguments are parsed
    try:
        with signals_as_interrupts():
            try:
                args = build_parser().parse_args(argv)
                command = args.command
                return _run(args)
            except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (a Terminated)
                return _interrupted(command, err)
            except BrokenPipeError:
                return _broken_pipe()
            except Exception as err:
                # A signal during an import (torch's takes seconds) can be re-raised by Python
                # as another error caused by it, e.g. a class's __set_name__ as a RuntimeError.
                if is_interrupt(err):
                    return _interrupted(command, err)
                raise
    finally:
        if argv is None:
            # The program's work is over and stored: a signal during the interpreter's exit
            # (freeing torch takes a moment) must not turn a finished run into a killed one.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)


def _run(args: argparse.Namespace) -> int:
    from export._cli import EXPORT_HANDLERS
    from nas.app import _commands as commands
    from nas.app import _reports as reports
    from nas.core._faults import describe_fault, is_interrupt

    handlers: dict[str, Callable[[argparse.Namespace, dict[str, Any]], int]] = {
        "search": commands.search,
        "resume": commands.resume,
        "worker": commands.resume,
        "confirm": commands.confirm,
        "tabulate": commands.tabulate,
        "delete": commands.delete,
        "list": reports.list_studies,
        "show": reports.show,
        "plot": reports.plot,
        "dashboard": reports.dashboard,
        **EXPORT_HANDLERS,
    }
    default_hook = threading.excepthook

    def thread_hook(info: threading.ExceptHookArgs) -> None:
        # A heartbeat thread hitting a full disk or a broken database: the main thread meets
        # the same fault and says it in one line; a traceback from the thread adds only noise.
        if info.exc_value is not None and describe_fault(info.exc_value) is not None:
            return
        default_hook(info)

    threading.excepthook = thread_hook
    try:
        given = given_options(args)
        status = handlers[args.command](args, given)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except commands.USER_ERRORS as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"mtlnas {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as err:
        # Libraries re-wrap a Ctrl-C or a full disk at times (the ONNX exporter, Optuna's
        # storage): name the real cause in one line. Anything else is a bug: keep its traceback.
        if is_interrupt(err):
            return _interrupted(args.command, err)
        fault = describe_fault(err)
        if fault is None:
            raise
        print(f"mtlnas {args.command}: error: {fault}", file=sys.stderr)
        return 2


def _interrupted(command: str, err: BaseException) -> int:
    from nas.core._faults import is_terminated

    terminated = is_terminated(err)
    if command in ("search", "resume", "worker", "confirm"):
        what = "the running trial is marked failed; resume to go on"
        if terminated:  # preempted, not the user's choice: its layout is trained again
            what = "the running trial is marked failed and queued again; resume to go on"
    else:
        what = "nothing was written"
    who = f"mtlnas {command}" if command else "mtlnas"
    if terminated:
        print(f"{who}: terminated (SIGTERM); {what}", file=sys.stderr)
        return 128 + signal.SIGTERM
    print(f"{who}: interrupted; {what}", file=sys.stderr)
    return 128 + signal.SIGINT


def _broken_pipe() -> int:
    # The reader went away (``mtlnas show NAME | head -1``): stop quietly, as Unix tools do.
    # Python would report the failed flush of stdout at exit: point stdout at /dev/null first.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
