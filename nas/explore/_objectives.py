"""What a trial is judged on: its values, their directions, and whether it is feasible.

One object answers it for the whole study: the study's directions and metric names, the values
a trial returns, the constraints it stores (Optuna's ``trial.set_constraint``, so samplers learn
the feasible region), whether the pruner applies (single objective only), and which trials may
be the answer (feasible ones). Chosen by ``--objectives`` like strategies and evaluators::

    mtlnas search --objectives delta                      # Δ_MTL alone (default)
    mtlnas search --objectives delta,flops                # a Pareto front against FLOPs
    mtlnas search --objectives delta,latency              # ... against measured latency
    mtlnas search --objective-option max_params=200000    # the best layout within a budget
    mtlnas search --objectives my_pkg.objectives:small    # your own
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from optuna.trial import FrozenTrial

from nas.core._errors import UserError
from nas.core._plugins import Catalog
from nas.model._network import Cost

__all__ = [
    "OBJECTIVES_CATALOG",
    "COSTS",
    "Objectives",
    "ObjectivesError",
    "feasible",
    "make_objectives",
    "register_objectives",
]

# params and flops per sample, from the cost model; latency as a multiple of the independent
# networks' at batch 1, measured once per layout and study (nas.study._latency)
COSTS = ("params", "flops", "latency")
_CONSTRAINTS = "constraints"  # where Optuna keeps a trial's set_constraint values


class ObjectivesError(UserError, ValueError):
    """Unknown objectives, or options they do not take."""


class Objectives:
    """Δ_MTL (maximised), then any costs (minimised), within optional budgets.

    Args:
        costs: costs to minimise beside Δ_MTL (a Pareto front); names from :data:`COSTS`.
        max_cost: cost name -> the most a feasible layout may cost (absolute, per sample).

    Example:
        >>> o = Objectives(costs=("flops",), max_cost={"params": 1000})
        >>> o.directions, o.names
        (['maximize', 'minimize'], ['delta_mtl', 'flops'])
        >>> o.constraints(Cost(block_executions=4, params=1500, flops=10))
        {'max_params': 500.0}
    """

    def __init__(
        self, costs: Sequence[str] = (), max_cost: Mapping[str, float] | None = None
    ) -> None:
        self.costs, self.max_cost = tuple(costs), dict(max_cost or {})
        for name in (*self.costs, *self.max_cost):
            if name not in COSTS:
                raise ObjectivesError(f"unknown cost {name!r}; choose one of {list(COSTS)}")
        for name, value in self.max_cost.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ObjectivesError(f"budget max_{name} must be a positive number, got {value!r}")

    @property
    def names(self) -> list[str]:
        """Value names, for Optuna and the dashboard."""
        return ["delta_mtl", *self.costs]

    @property
    def directions(self) -> list[str]:
        """Optuna directions, one per value."""
        return ["maximize"] + ["minimize"] * len(self.costs)

    @property
    def multi(self) -> bool:
        """True for a Pareto front (Optuna's pruning is single-objective only)."""
        return len(self.costs) > 0

    @property
    def uses_latency(self) -> bool:
        """Whether a trial's latency must be known (an objective or a budget)."""
        return "latency" in self.costs or "latency" in self.max_cost

    def values(self, delta: float, cost: Cost, latency: float | None = None) -> list[float]:
        """The values a trial returns: Δ_MTL, then each cost.

        ``latency``: the layout's latency ratio, needed when :attr:`uses_latency`.
        """
        have = _costs(cost, latency)
        return [delta, *(have[name] for name in self.costs)]

    def constraints(self, cost: Cost, latency: float | None = None) -> dict[str, float]:
        """Constraint name -> value, feasible when every value is zero or less."""
        have = _costs(cost, latency)
        return {f"max_{k}": have[k] - float(v) for k, v in self.max_cost.items()}


def _costs(cost: Cost, latency: float | None) -> dict[str, float]:
    out = {"params": float(cost.params), "flops": float(cost.flops)}
    if latency is not None:
        out["latency"] = float(latency)
    return out


def feasible(trial: FrozenTrial) -> bool:
    """True unless the trial stored a constraint above zero (a layout over its budget)."""
    return all(
        float(v) <= 0
        for k, v in trial.system_attrs.items()
        if k.startswith(_CONSTRAINTS + ":") and isinstance(v, (int, float))
    )


def delta(
    costs: Sequence[str] = (),
    max_params: float | None = None,
    max_flops: float | None = None,
    max_latency: float | None = None,
) -> Objectives:
    """Objectives factory of the built-in specs ``delta`` and ``delta,COST``.

    Budgets are absolute: parameters or FLOPs per sample, latency as a multiple of the
    independent networks' (``--max-cost`` resolves relative budgets into these).
    """
    budgets = {"params": max_params, "flops": max_flops, "latency": max_latency}
    return Objectives(costs, {k: v for k, v in budgets.items() if v is not None})


OBJECTIVES_CATALOG: Catalog[Objectives] = Catalog(
    "objectives", Objectives, ObjectivesError,
    refusal="{what} returned {got}, not a nas.explore._objectives.Objectives",
)  # fmt: skip


def register_objectives(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: make an objectives factory ``fn(**options) -> Objectives`` available."""
    return OBJECTIVES_CATALOG.register(name)


def make_objectives(spec: str, options: Mapping[str, Any] | None = None) -> Objectives:
    """The objectives ``spec`` names (``delta[,COST]`` or ``module:function``) with ``options``.

    Raises:
        ObjectivesError: unknown spec, options it does not take, or no Objectives returned.
    """
    options = dict(options or {})
    name, _, rest = spec.partition(",") if ":" not in spec else (spec, "", "")
    if rest:
        if name != "delta" or rest not in COSTS:
            raise ObjectivesError(
                f"objectives {spec!r}: use delta, delta,params, delta,flops, delta,latency, "
                "or package.module:function"
            )
        options["costs"] = (rest,)
    return OBJECTIVES_CATALOG.make(name, options)
