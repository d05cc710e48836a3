"""The ``mtlnas`` command line: start a search, resume it, inspect it, export the winner."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "benchmark": {"help": "built-in benchmark (digits, scenes, nyuv2) or package.module:function"},
    "size": {"help": "benchmark size: tiny, small or default"},
    "data": {"help": "folder of a benchmark read from disk (nyuv2)"},
    "space": {"help": "search space: branched, adashare, or package.module:Class"},
    "space_option": {
        "action": "append",
        "metavar": "KEY=INT",
        "help": "search-space option, e.g. instances=2 or always_run=1 (repeatable)",
    },
    "backbone": {
        "help": "backbone: conv, mlp, resnet18, resnet34, resnet50, or package.module:function "
        "(default: the benchmark's)"
    },
    "backbone_option": {
        "action": "append",
        "metavar": "KEY=VALUE",
        "help": "backbone option as a JSON value, e.g. widths=[16,32,32]; without --backbone "
        "it adjusts the benchmark's own (repeatable)",
    },
    "pretrained": {
        "metavar": "PATH",
        "help": "ResNet state dict file with torchvision's names (e.g. ImageNet weights); every "
        "block instance starts from it",
    },
    "backbone_lr_mult": {
        "type": float,
        "help": "backbone learning rate = lr x this, heads get lr (default 1; 0.1 suits "
        "pretrained weights)",
    },
    "bn_mode": {
        "help": "backbone batch norm: train (default: batch statistics) or frozen (stored "
        "statistics, scale and shift kept)"
    },
    "evaluator": {
        "help": "how a layout is scored: train (default: from scratch), supernet (weights "
        "inherited from one supernet per study), or package.module:function"
    },
    "evaluator_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "evaluator option as a JSON value, e.g. epochs=12 for the supernet (repeatable)",
    },
    "supernet_epochs": {
        "type": int,
        "help": "short for --evaluator-option epochs=N: the supernet's training epochs "
        "(default 2 x --epochs)",
    },
    "objectives": {
        "help": "delta (default), delta,params / delta,flops for a Pareto front, or "
        "package.module:function"
    },
    "objective_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "objectives option as a JSON value, e.g. max_flops=2e6 (a budget: layouts over "
        "it are never the answer) (repeatable)",
    },
    "n_trials": {"type": int, "help": "target count of finished trials (default 20)"},
    "epochs": {"type": int, "help": "training epochs per trial (default 6)"},
    "batch_size": {"type": int, "help": "training batch size (default 64)"},
    "lr": {"type": float, "help": "AdamW learning rate (default 3e-3)"},
    "loss_weighting": {"help": "equal (default), uncertainty, or search"},
    "strategy": {
        "help": "where candidates come from: tpe (default), random, nsga2 (multi-objective), gp, "
        "grid (every layout of the space), or package.module:function"
    },
    "strategy_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "strategy option as a JSON value, e.g. n_startup_trials=5 (repeatable)",
    },
    "sampler": {"help": "the same as --strategy (its name before strategies)"},
    "pruner": {"help": "percentile (default: stop the bottom quarter), median, or none"},
    "seed": {"type": int, "help": "seed of data, weights and sampler (default 0)"},
    "labels": {
        "metavar": "TASK=SHARE,...",
        "help": "keep only this share of a task's training labels, e.g. count=0.1,normals=0.25 "
        "(the few-labels regime; validation and test keep every label)",
    },
}


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
        "layouts (default 2)",
    )
    p.add_argument(
        f"--{prefix}seeds",
        dest="confirm_seeds",
        type=int,
        default=None,
        help="fresh training seeds per finalist (default 5)",
    )


def _retrain_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--retrain",
        action="store_true",
        help="train again what the artifact store lost (missing or corrupt files): the "
        "supernet's checkpoint, and confirm runs (same seeds; nothing else), whose table is "
        "then computed again",
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
    _config_args(p)


def _config_args(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("study configuration (stored with the study)")
    for key, kwargs in CONFIG_OPTIONS.items():
        group.add_argument("--" + key.replace("_", "-"), dest=key, default=None, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (built on demand, never at import)."""
    from nas import __version__

    parser = argparse.ArgumentParser(
        prog="mtlnas",
        description="Search how tasks share a network; resume from the database; export to ONNX.",
    )
    parser.add_argument("--version", action="version", version=f"mtl-nas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "search",
        help="start a study (or continue one with the same config)",
        description="Start a search study, then confirm its best layouts on fresh seeds and "
        "the test split. With no options: the scenes benchmark, the branched space, 20 trials "
        "of 6 epochs, sqlite:///studies.db, 2 finalists x 5 seeds.",
    )
    p.add_argument("--name", default=None, help="study name (default: BENCHMARK-SPACE)")
    _search_args(p)

    p = sub.add_parser(
        "resume",
        help="continue a stored study until its target is reached",
        description="Resume a study from the database; only its name is needed. "
        "--n-trials raises the target; other options must match the stored ones.",
    )
    p.add_argument("name", help="study name")
    _search_args(p)

    p = sub.add_parser(
        "worker",
        help="join a study as one more worker (same as resume)",
        description="Work on a stored study beside other processes, on this "
        "machine or others sharing the database (e.g. --storage "
        "postgresql+psycopg://...). Pin each to a GPU with CUDA_VISIBLE_DEVICES.",
    )
    p.add_argument("name", help="study name")
    _search_args(p)

    p = sub.add_parser(
        "confirm",
        help="retrain the best layouts and baselines with fresh seeds; score the test split",
        description="The confirm stage (run by search and resume at their end): retrain the "
        "search's top distinct layouts and both baselines from scratch with seeds the search "
        "never used, choose the winner by mean validation Δ_MTL, then score the winner and "
        "the baselines once on the test split. Resumable; workers may share it.",
    )
    p.add_argument("name", help="study name")
    _confirm_args(p)
    _retrain_arg(p)
    _storage_args(p)
    _run_args(p)

    p = sub.add_parser("list", help="list the stored studies")
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

    from export.cli import add_export_commands

    add_export_commands(sub, _storage_args)
    return parser


def _given(args: argparse.Namespace) -> dict[str, Any]:
    from nas.study.config import ConfigError

    given = {k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k, None) is not None}
    if "space_option" in given:
        options: dict[str, Any] = {}
        for item in given.pop("space_option"):
            key, sep, value = item.partition("=")
            if not sep or not value.lstrip("-").isdigit():
                raise ConfigError(f"--space-option {item!r}: expected KEY=INT, e.g. instances=2")
            options[key] = int(value)
        given["space_options"] = options
    if "labels" in given:
        shares: dict[str, float] = {}
        for item in given.pop("labels").split(","):
            key, sep, value = item.partition("=")
            if key.strip() in shares:
                raise ConfigError(
                    f"--labels names task {key.strip()!r} twice; give each task one share"
                )
            try:
                shares[key.strip()] = float(value)
            except ValueError:
                sep = ""
            if not sep or not key.strip():
                raise ConfigError(f"--labels {item!r}: expected TASK=SHARE, e.g. count=0.1")
        given["labels"] = shares
    if "sampler" in given:  # the option's name before strategies
        if "strategy" in given:
            raise ConfigError("--sampler and --strategy name the same thing; give one")
        given["strategy"] = given.pop("sampler")
    if "strategy_option" in given:
        given["strategy_options"] = _json_options("--strategy-option", given.pop("strategy_option"))
    if "objective_option" in given:
        given["objective_options"] = _json_options(
            "--objective-option", given.pop("objective_option")
        )
    if "evaluator_option" in given or "supernet_epochs" in given:
        evaluator = _json_options("--evaluator-option", given.pop("evaluator_option", []))
        if "supernet_epochs" in given:
            evaluator["epochs"] = given.pop("supernet_epochs")
        given["evaluator_options"] = evaluator
    if "pretrained" in given:  # stored absolute: resume and workers may start elsewhere
        given["pretrained"] = os.path.abspath(given["pretrained"])
    if "backbone_option" in given:
        given["backbone_options"] = _json_options("--backbone-option", given.pop("backbone_option"))
    return given


def _json_options(flag: str, items: list[str]) -> dict[str, Any]:
    from nas.study.config import ConfigError

    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE, e.g. width=64")
        if key in options:
            raise ConfigError(f"{flag} gives {key!r} twice; give each option once")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value  # a plain word, e.g. norm=batch
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mtlnas`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from nas.faults import signals_as_interrupts

    # From here on a SIGTERM (a scheduler, a preempted machine) or Ctrl-C ends in one line,
    # even while the libraries are still being imported.
    with signals_as_interrupts():
        try:
            return _run(args)
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (a Terminated)
            return _interrupted(args.command, err)
        except BrokenPipeError:
            return _broken_pipe()


def _run(args: argparse.Namespace) -> int:
    from export.cli import EXPORT_HANDLERS
    from nas import commands, reports
    from nas.faults import describe_fault, is_interrupt

    handlers: dict[str, Callable[[argparse.Namespace, dict[str, Any]], int]] = {
        "search": commands.search,
        "resume": commands.resume,
        "worker": commands.resume,
        "confirm": commands.confirm,
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
        given = _given(args)
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
    from nas.faults import is_terminated

    terminated = is_terminated(err)
    if command in ("search", "resume", "worker", "confirm"):
        what = "the running trial is marked failed; resume to go on"
        if terminated:  # preempted, not the user's choice: its layout is trained again
            what = "the running trial is marked failed and queued again; resume to go on"
    else:
        what = "nothing was written"
    if terminated:
        print(f"mtlnas {command}: terminated (SIGTERM); {what}", file=sys.stderr)
        return 128 + signal.SIGTERM
    print(f"mtlnas {command}: interrupted; {what}", file=sys.stderr)
    return 128 + signal.SIGINT


def _broken_pipe() -> int:
    # The reader went away (``mtlnas show NAME | head -1``): stop quietly, as Unix tools do.
    # Python would report the failed flush of stdout at exit: point stdout at /dev/null first.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
