"""The search configuration: everything that defines a study, stored inside the study itself.

A resume needs only the study's name: the configuration is read back from the database. Keys
that change what a trial means (benchmark, space, budget, seeds, objectives, strategy, pruner)
cannot be changed on resume; ``n_trials`` (the target) can be raised.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas.core._errors import UserError

if TYPE_CHECKING:
    from nas.explore._objectives import Objectives
    from nas.training import TrainConfig

__all__ = ["PRUNERS", "ConfigError", "SearchConfig", "conflicts", "pruning_warmup"]

PRUNERS = ("percentile", "median", "none")
BN_MODES = ("train", "frozen")
CHANGEABLE = frozenset({"n_trials"})  # may differ on resume


_MAPPINGS = frozenset(
    {"space_options", "benchmark_options", "backbone_options", "evaluator_options",
     "objective_options", "max_cost", "strategy_options", "warm_start_options", "labels",
     "baseline_widths"}
)  # fmt: skip
_STRINGS = frozenset(
    {"benchmark", "space", "evaluator", "objectives", "loss_weighting", "strategy", "pruner",
     "bn_mode"}
)  # fmt: skip


class ConfigError(UserError, ValueError):
    """An option with a value mtl-nas cannot use; the message names it and what is allowed."""


@dataclass(frozen=True)
class SearchConfig:
    """One study's configuration, with defaults for the main job (about 25 min on 2 CPU cores)."""

    benchmark: str = "scenes"  # built-in name or package.module:function
    size: str | None = None  # benchmark size knob (tiny, small, default); None: its default
    data: str | None = None  # folder of a benchmark read from disk (nyuv2)
    # The benchmark factory's own options, e.g. {"val_fraction": 0.2}: nyuv2's validation share
    benchmark_options: Mapping[str, Any] = field(default_factory=dict)
    space: str = "branched"  # search space: branched or adashare
    space_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"instances": 2}
    backbone: str | None = None  # built-in name or package.module:function; None: the benchmark's
    backbone_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"widths": [8, 16]}
    evaluator: str = "train"  # how a layout is scored: train, supernet, or module:function
    evaluator_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"epochs": 12}
    objectives: str = "delta"  # delta, delta,params / delta,flops (a Pareto front), module:fn
    objective_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"max_flops": 1e6}
    # Budgets as given (nas.explore._budgets): {"flops": "0.5"} is half the independent nets' FLOPs;
    # resolved into absolute objective_options when the study is created.
    max_cost: Mapping[str, str] = field(default_factory=dict)
    # The equal-cost baselines: each baseline ("independent", "hard_sharing") at the widest
    # channel multiplier within the parameter and FLOP budgets, set with them when the study is
    # created (nas.explore.widest); empty without such a budget.
    baseline_widths: Mapping[str, float] = field(default_factory=dict)
    n_trials: int = 20  # finished trials to reach; with the confirm stage, 23 min on 2 cores
    epochs: int = 6  # training epochs per trial
    batch_size: int = 64
    lr: float = 3e-3
    # How task losses and gradients combine (nas.model.combine): a method, or search[:a,b,...] to
    # make it a parameter of the search; --combine on the command line.
    loss_weighting: str = "equal"
    # Where candidates come from: paths, tpe, random, nsga2, gp, grid, ..., module:fn. "auto"
    # (the default) is stored as what it means: paths for Δ_MTL alone, tpe for a front; why
    # paths, measured on unseen published results and the project's tables: README.
    strategy: str = "auto"
    strategy_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"seed": 3}
    # A strategy whose layouts are queued before the main strategy's (e.g. adashare or affinity
    # seeding TPE); None: no warm start.
    warm_start: str | None = None
    warm_start_options: Mapping[str, Any] = field(default_factory=dict)
    pruner: str = "percentile"  # percentile (bottom 25%), median (bottom 50%), none
    seed: int = 0  # data, initial weights and sampler
    tasks: Sequence[str] = ()  # the benchmark's tasks kept; empty: all of them
    labels: Mapping[str, float] = field(default_factory=dict)  # task -> share of train labels kept
    pretrained: str | None = None  # torchvision-named ResNet state dict every block starts from
    backbone_lr_mult: float = 1.0  # backbone lr = lr x this (e.g. 0.1 for pretrained weights)
    bn_mode: str = "train"  # backbone batch norm: train (batch statistics) or frozen (stored)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # wrong types named here, not deep inside a trial
            value = getattr(self, f.name)
            if f.name in _MAPPINGS and not isinstance(value, Mapping):
                raise ConfigError(f"option {f.name!r} must be a dict, got {value!r}")
            if f.name in _STRINGS and not isinstance(value, str):
                raise ConfigError(f"option {f.name!r} must be a string, got {value!r}")
        if isinstance(self.tasks, str) or not isinstance(self.tasks, Sequence):
            raise ConfigError(
                f"option 'tasks' must be a list of task names, e.g. ['depth', 'count'], "
                f"got {self.tasks!r}"
            )
        object.__setattr__(self, "space_options", dict(self.space_options))
        object.__setattr__(self, "benchmark_options", dict(self.benchmark_options))
        given = sorted(set(self.benchmark_options) & {"size", "seed", "root", "data"})
        if given:
            raise ConfigError(
                f"benchmark option {given[0]!r} is a study option of its own: give --size, "
                "--seed or --data instead"
            )
        object.__setattr__(self, "backbone_options", dict(self.backbone_options))
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "tasks", list(self.tasks))
        if len(set(self.tasks)) != len(self.tasks) or not all(
            isinstance(t, str) and t for t in self.tasks
        ):
            raise ConfigError(f"option 'tasks' must name distinct tasks, got {self.tasks!r}")
        object.__setattr__(self, "strategy_options", dict(self.strategy_options))
        object.__setattr__(self, "warm_start_options", dict(self.warm_start_options))
        warm = self.warm_start
        if warm is not None and (not isinstance(warm, str) or not warm):
            raise ConfigError(f"option 'warm_start' must name a strategy, got {self.warm_start!r}")
        if self.warm_start_options and self.warm_start is None:
            raise ConfigError("--warm-start-option needs --warm-start NAME")
        object.__setattr__(self, "evaluator_options", dict(self.evaluator_options))
        object.__setattr__(self, "objective_options", dict(self.objective_options))
        object.__setattr__(self, "max_cost", dict(self.max_cost))
        object.__setattr__(self, "baseline_widths", dict(self.baseline_widths))
        for role, width in self.baseline_widths.items():
            if role not in ("independent", "hard_sharing"):
                raise ConfigError(
                    f"option 'baseline_widths' names {role!r}; the baselines are 'independent' "
                    "and 'hard_sharing'"
                )
            if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
                raise ConfigError(
                    f"option 'baseline_widths': {role} at width {width!r}; give a channel "
                    "multiplier in (0, 4]"
                )
        if self.max_cost:
            from nas.explore._budgets import BudgetError, parse_max_cost

            try:
                parse_max_cost(",".join(f"{k}={v}" for k, v in self.max_cost.items()))
            except BudgetError as err:
                raise ConfigError(str(err)) from None
            if ":" in self.objectives:
                raise ConfigError(
                    f"--max-cost sets budgets of the built-in objectives; objectives "
                    f"{self.objectives!r} take theirs as --objective-option"
                )
        for task, share in self.labels.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise ConfigError(
                    f"option 'labels': task {task!r} keeps {share!r} of its labels; give a share "
                    "in (0, 1], e.g. --labels count=0.1"
                )
        from nas.model.combine import check_combine, is_search

        if (why := check_combine(str(self.loss_weighting))) is not None:
            raise ConfigError(f"option 'combine' (loss_weighting): {why}")
        checks = {"pruner": (self.pruner, PRUNERS)}
        for key, (value, allowed) in checks.items():
            if value not in allowed:
                raise ConfigError(f"option {key!r} is {value!r}; choose one of {list(allowed)}")
        for key in ("n_trials", "epochs", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"option {key!r} must be a positive integer, got {value!r}")
        if self.n_trials < 2:
            raise ConfigError("option 'n_trials' must be at least 2 (the two baselines come first)")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
            raise ConfigError(f"option 'lr' must be a positive finite number, got {lr!r}")
        mult = self.backbone_lr_mult
        if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 < mult < math.inf:
            raise ConfigError(
                f"option 'backbone_lr_mult' must be a positive finite number, got {mult!r}"
            )
        if self.bn_mode not in BN_MODES:
            raise ConfigError(
                f"option 'bn_mode' is {self.bn_mode!r}; choose one of {list(BN_MODES)}"
            )
        if self.pretrained is not None and (
            not isinstance(self.pretrained, str) or not self.pretrained
        ):
            raise ConfigError(f"option 'pretrained' must be a file path, got {self.pretrained!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"option 'seed' must be a non-negative integer, got {self.seed!r}")
        if self.evaluator == "supernet" and is_search(self.loss_weighting):
            raise ConfigError(
                "the supernet evaluator trains one set of weights for every layout; "
                "--combine search needs --evaluator train"
            )
        from nas.explore._objectives import ObjectivesError

        try:
            self.judged_on()
        except ObjectivesError as err:
            raise ConfigError(str(err)) from None
        if self.strategy == "auto":
            # paths models Δ_MTL alone; a front (Δ_MTL and a cost) needs a multi-objective one.
            object.__setattr__(self, "strategy", "tpe" if self.multi_objective else "paths")
        if self.strategy == "nsga2" and not self.multi_objective:
            raise ConfigError(
                "strategy 'nsga2' needs several objectives, e.g. --objectives delta,params"
            )

    def train_config(self, **overrides: Any) -> TrainConfig:
        """How the study trains a candidate: its epochs, batch size, lr, backbone options, seed.

        The one place a study's stored options become training settings; ``overrides`` are
        :class:`~nas.training.TrainConfig` fields (a supernet's own epochs, a candidate's seed).
        """
        from nas.training import TrainConfig

        fields: dict[str, Any] = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": float(self.lr),
            "backbone_lr_mult": float(self.backbone_lr_mult),
            "bn_mode": self.bn_mode,
            "seed": self.seed,
        }
        return TrainConfig(**(fields | overrides))

    def judged_on(self) -> Objectives:
        """The study's objectives: values, directions and budgets."""
        from nas.explore._objectives import make_objectives

        return make_objectives(self.objectives, self.objective_options)

    @property
    def multi_objective(self) -> bool:
        """True when the study optimises Δ_MTL and a cost together."""
        return self.judged_on().multi

    @property
    def directions(self) -> list[str]:
        """Optuna directions: maximise Δ_MTL, minimise the costs."""
        return self.judged_on().directions

    @property
    def metric_names(self) -> list[str]:
        """Objective names for Optuna and the dashboard."""
        return self.judged_on().names

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without ``baseline_widths`` when empty, as before they existed)."""
        out = {
            **dataclasses.asdict(self),
            "space_options": dict(self.space_options),
            "benchmark_options": dict(self.benchmark_options),
            "backbone_options": dict(self.backbone_options),
            "labels": dict(self.labels),
            "strategy_options": dict(self.strategy_options),
            "warm_start_options": dict(self.warm_start_options),
            "evaluator_options": dict(self.evaluator_options),
            "objective_options": dict(self.objective_options),
            "baseline_widths": dict(self.baseline_widths),
        }
        if not self.baseline_widths:
            del out["baseline_widths"]
        return out

    def to_json(self) -> str:
        """JSON text, as stored in the study."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        """Read :meth:`to_dict` output; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        if "sampler" in data:  # written before strategies: its sampler is now its strategy
            data = {k: v for k, v in data.items() if k != "sampler"} | {"strategy": data["sampler"]}
        if "supernet_epochs" in data:  # written before evaluator options
            epochs = data["supernet_epochs"]
            data = {k: v for k, v in data.items() if k != "supernet_epochs"}
            if epochs is not None:
                options = {**data.get("evaluator_options", {}), "epochs": epochs}
                data = {**data, "evaluator_options": options}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown configuration keys {unknown}; known keys: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> SearchConfig:
        """A copy with some keys changed."""
        return dataclasses.replace(self, **changes)


def conflicts(stored: SearchConfig, given: Mapping[str, Any]) -> list[str]:
    """Keys in ``given`` whose values differ from ``stored`` and may not change on resume."""
    current = stored.to_dict()
    return sorted(
        k for k, v in given.items() if k not in CHANGEABLE and k in current and current[k] != v
    )


def pruning_warmup(config: SearchConfig) -> int:
    """The first epoch the pruner judges (the last epoch when nothing is pruned)."""
    if config.pruner == "none" or config.multi_objective:
        return config.epochs
    return min(config.epochs, config.epochs // 2 + 1)
