"""The study options of ``mtlnas``: their flags, and the values the user gave, checked.

Every option here is stored with the study; ``given`` holds only those the user typed, so a
resume can tell a changed option from a default.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from nas.core._plugins import listing

__all__ = ["CONFIG_OPTIONS", "add_config_args", "given_options", "python_options"]

CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "benchmark": {"help": f"benchmark: {listing('benchmark')}, or package.module:function"},
    "size": {"help": "benchmark size: tiny, small or default"},
    "data": {"help": "folder of a benchmark read from disk (nyuv2; your function's root)"},
    "benchmark_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "option of the benchmark's own, as a JSON value, e.g. val_fraction=0.2 (nyuv2: "
        "the share of train/ held out for validation; default 0.1) (repeatable)",
    },
    "space": {"help": f"search space: {listing('space')}, or package.module:Class"},
    "space_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "search-space option as a JSON value, e.g. instances=2, always_run=1 or "
        "split_depths=[0,2,4,6] (repeatable)",
    },
    "backbone": {
        "help": f"backbone: {listing('backbone')}, or package.module:function (default: the "
        "benchmark's)"
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
        "help": f"how a layout is scored: {listing('evaluator')}, table:FILE (answered from a "
        "table built by mtlnas tabulate), or package.module:function"
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
        "help": f"{listing('objectives')} (latency: onnxruntime, batch 1, measured once per "
        "layout on this machine), or package.module:function"
    },
    "objective_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "objectives option as a JSON value, e.g. max_flops=2e6 (a budget: layouts over "
        "it are never the answer) (repeatable)",
    },
    "max_cost": {
        "metavar": "COST=BUDGET",
        "help": "budgets, e.g. flops=0.5 (half the independent networks' FLOPs per sample) or "
        "params=800k (absolute; units k, M, G), latency=0.5 or latency=2.5ms (batch 1, "
        "measured on this machine); comma-separated: layouts over a budget are never the "
        "answer, and a budget below the space's cheapest layout is refused",
    },
    "n_trials": {"type": int, "help": "target count of finished trials (default 20)"},
    "epochs": {"type": int, "help": "training epochs per trial (default 6)"},
    "batch_size": {"type": int, "help": "training batch size (default 64)"},
    "lr": {"type": float, "help": "AdamW learning rate (default 3e-3)"},
    "combine": {
        "metavar": "METHOD",
        "help": f"how the tasks train together: {listing('loss weighting')} (loss weightings), "
        f"{listing('aggregator', described=False)} (gradient aggregations), or your own as "
        "package.module:Name (a Combiner made from the task names); search (equal or "
        "uncertainty) or search:A,B,... makes it a parameter of the search",
    },
    "loss_weighting": {"help": "the same as --combine (its name before aggregations)"},
    "strategy": {
        "help": f"where candidates come from: {listing('strategy')}, or package.module:function"
    },
    "strategy_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "strategy option as a JSON value, e.g. n_startup_trials=5 (repeatable)",
    },
    "sampler": {"help": "the same as --strategy (its name before strategies)"},
    "warm_start": {
        "metavar": "STRATEGY",
        "help": "queue this strategy's layouts first (adashare or affinity), then --strategy "
        "goes on from them",
    },
    "warm_start_option": {
        "action": "append",
        "metavar": "KEY=JSON",
        "help": "warm-start strategy option as a JSON value, e.g. trees=5 (repeatable)",
    },
    "pruner": {"help": "percentile (default: stop the bottom quarter), median, or none"},
    "seed": {"type": int, "help": "seed of data, weights and sampler (default 0)"},
    "tasks": {
        "metavar": "TASK,...",
        "help": "keep only these of the benchmark's tasks, e.g. depth,normals,count (default: all)",
    },
    "labels": {
        "metavar": "TASK=SHARE,...",
        "help": "keep only this share of a task's training labels, e.g. count=0.1,normals=0.25 "
        "(the few-labels regime; validation and test keep every label)",
    },
}


def add_config_args(p: argparse.ArgumentParser) -> None:
    """Add every study option to ``p``, in their own group of the help."""
    group = p.add_argument_group("study configuration (stored with the study)")
    for key, kwargs in CONFIG_OPTIONS.items():
        group.add_argument("--" + key.replace("_", "-"), dest=key, default=None, **kwargs)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The study options the user gave, parsed and checked.

    Raises:
        ConfigError: a malformed KEY=VALUE, a task or option given twice.
    """
    from nas.explore._config import ConfigError

    given = {k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k, None) is not None}
    if "benchmark_option" in given:
        given["benchmark_options"] = _json_options(
            "--benchmark-option", given.pop("benchmark_option")
        )
    if "space_option" in given:
        given["space_options"] = _json_options("--space-option", given.pop("space_option"))
    if "tasks" in given:
        given["tasks"] = _tasks(given["tasks"], "--tasks")
    if "labels" in given:
        given["labels"] = _labels(given.pop("labels"), "--labels")
    if "combine" in given:
        if "loss_weighting" in given:
            raise ConfigError("--combine and --loss-weighting name the same thing; give one")
        given["loss_weighting"] = given.pop("combine")
    if "sampler" in given:  # the option's name before strategies
        if "strategy" in given:
            raise ConfigError("--sampler and --strategy name the same thing; give one")
        given["strategy"] = given.pop("sampler")
    if "strategy_option" in given:
        given["strategy_options"] = _json_options("--strategy-option", given.pop("strategy_option"))
    if "warm_start_option" in given:
        given["warm_start_options"] = _json_options(
            "--warm-start-option", given.pop("warm_start_option")
        )
    if "objective_option" in given:
        given["objective_options"] = _json_options(
            "--objective-option", given.pop("objective_option")
        )
    if "max_cost" in given:
        from nas.explore._budgets import parse_max_cost

        given["max_cost"] = parse_max_cost(given["max_cost"])
    if "evaluator_option" in given or "supernet_epochs" in given:
        evaluator = _json_options("--evaluator-option", given.pop("evaluator_option", []))
        if "supernet_epochs" in given:
            evaluator["epochs"] = given.pop("supernet_epochs")
        given["evaluator_options"] = evaluator
    if str(given.get("evaluator", "")).startswith("table:"):  # stored absolute, as below
        given["evaluator"] = "table:" + os.path.abspath(given["evaluator"][len("table:") :])
    if "pretrained" in given:  # stored absolute: resume and workers may start elsewhere
        given["pretrained"] = os.path.abspath(given["pretrained"])
    if "backbone_option" in given:
        given["backbone_options"] = _json_options("--backbone-option", given.pop("backbone_option"))
    return given


def python_options(options: dict[str, Any]) -> dict[str, Any]:
    """Study options given from Python, with the command line's string forms read as it does.

    ``tasks="depth,count"``, ``labels="count=0.1"`` and ``max_cost="flops=0.5"`` mean what they
    mean after ``--tasks``, ``--labels`` and ``--max-cost``; ``combine`` is ``loss_weighting``
    (``--combine``).

    Raises:
        ConfigError: a malformed string, or a name given twice.
    """
    from nas.explore._config import ConfigError

    options = dict(options)
    if "combine" in options:
        if "loss_weighting" in options:
            raise ConfigError("combine and loss_weighting name the same thing; give one")
        options["loss_weighting"] = options.pop("combine")
    if isinstance(options.get("tasks"), str):
        options["tasks"] = _tasks(options["tasks"], "tasks=")
    if isinstance(options.get("labels"), str):
        options["labels"] = _labels(options["labels"], "labels=")
    if isinstance(options.get("max_cost"), str):
        from nas.explore._budgets import parse_max_cost

        options["max_cost"] = parse_max_cost(options["max_cost"])
    return options  # other types are SearchConfig's to check (a *_options value must be a dict)


def _tasks(text: str, flag: str) -> list[str]:
    from nas.explore._config import ConfigError

    names = [t.strip() for t in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ConfigError(f"{flag} {text!r}: expected distinct task names, e.g. depth,count")
    return names


def _labels(text: str, flag: str) -> dict[str, float]:
    from nas.explore._config import ConfigError

    shares: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if key.strip() in shares:
            raise ConfigError(f"{flag} names task {key.strip()!r} twice; give each task one share")
        try:
            shares[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: expected TASK=SHARE, e.g. count=0.1")
    return shares


def _json_options(flag: str, items: list[str]) -> dict[str, Any]:
    from nas.explore._config import ConfigError

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
