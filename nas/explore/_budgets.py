"""Budgets as users say them: ``flops=0.5`` (of the independent networks) or ``params=800k``.

``--max-cost`` takes a cost name and a budget: a bare number is a multiple of the independent
networks' cost (``flops=0.5``: half their FLOPs per sample), a number with a unit is absolute
(``params=800k``, ``flops=1.2G``; units k, M, G; ``latency=2.5ms``). They are resolved once, when
the study is created, into the budgets of the study's objectives (``max_params`` / ``max_flops``
per sample, ``max_latency`` as a multiple of the independent networks' batch-1 latency, which
is how a study measures latency), which Optuna's constraint mechanism then enforces; a budget
below the cheapest layout of the space is refused before anything trains.

Example:
    >>> resolve({"flops": "0.5", "params": "2k"}, {"flops": 1000, "params": 5000},
    ...         {"flops": 200, "params": 1000})
    {'max_flops': 500.0, 'max_params': 2000.0}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Protocol

from nas.core._errors import UserError
from nas.core._layout import MAX_WIDTH, Layout

__all__ = ["BudgetError", "parse_max_cost", "resolve", "widest"]

COSTS = ("params", "flops", "latency")
UNITS = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "ms": 1.0}
WIDTH_STEP = 1000  # widths are searched in steps of 1/1000: far finer than one channel
MAX_MULTIPLE = 10.0  # a bare number above this is surely a count without its unit
_VALUE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(ms|[kMG]?)\s*$")


class BudgetError(UserError, ValueError):
    """A budget that cannot be read, or that no layout of the space can meet."""


def _budget(text: str, key: str = "flops") -> tuple[float, bool]:
    """(number, relative): a bare number is a multiple of the independent networks' cost."""
    match = _VALUE.match(text)
    units = "ms" if key == "latency" else "k, M, G"
    allowed = ("", "ms") if key == "latency" else ("", "k", "M", "G")
    if match is None or float(match.group(1)) <= 0 or match.group(2) not in allowed:
        example = "2.5ms" if key == "latency" else "800k, 1.2G"
        raise BudgetError(
            f"budget {key}={text} is not a positive multiple of the independent networks' "
            f"{key} (e.g. 0.5) or an amount with a unit ({units}; e.g. {example})"
        )
    number, unit = float(match.group(1)), match.group(2)
    if not unit and number > MAX_MULTIPLE:
        raise BudgetError(
            f"budget {key}={text} is read as {number:g}x the independent networks' {key}; for "
            f"an amount give a unit ({units}), e.g. "
            + (f"{number:g}ms" if key == "latency" else f"{number / 1e3:g}k")
        )
    return number * UNITS[unit], not unit


def parse_max_cost(text: str) -> dict[str, str]:
    """``--max-cost`` text (``flops=0.5,params=800k``) as {cost: budget}, each checked.

    Raises:
        BudgetError: an unknown cost, a cost named twice, or a budget that is not a number.
    """
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in COSTS:
            raise BudgetError(
                f"--max-cost {item.strip()!r}: expected COST=BUDGET with COST one of "
                f"{list(COSTS)}, e.g. flops=0.5, params=800k or latency=0.5"
            )
        if key in out:
            raise BudgetError(f"--max-cost names {key!r} twice; give each cost once")
        _budget(value, key)
        out[key] = value.strip()
    return out


def resolve(
    max_cost: Mapping[str, str], independent: Mapping[str, float], cheapest: Mapping[str, float]
) -> dict[str, float]:
    """The objectives' budgets (``max_flops`` ...) from ``max_cost``, given the layouts' costs.

    ``independent``: the independent networks' cost per name (what bare numbers multiply;
    latency in milliseconds); ``cheapest``: the cheapest layout of the space (what no budget
    may be below). Parameters and FLOPs come out absolute, latency as a multiple of the
    independent networks' (the unit a study measures it in).

    Raises:
        BudgetError: a budget below the cheapest layout, naming its cost.
    """
    out = {}
    for key, text in max_cost.items():
        number, relative = _budget(text, key)
        budget = number * independent[key] if relative else number
        if budget < cheapest[key]:
            ms = key == "latency"
            unit = "ms at batch 1" if ms else f"{key} per sample"
            need = f"{cheapest[key]:,.2f} ms" if ms else f"{cheapest[key]:,.0f}"
            raise BudgetError(
                f"--max-cost {key}={text} allows {budget:,.{2 if ms else 0}f} {unit}; the "
                f"cheapest layout of this space needs {need} "
                f"({cheapest[key] / independent[key]:.2f}x the independent networks'): "
                "raise the budget"
            )
        out[f"max_{key}"] = budget / independent[key] if key == "latency" else float(budget)
    return out


class _Costed(Protocol):
    @property
    def params(self) -> float: ...

    @property
    def flops(self) -> float: ...


def widest(
    layout: Layout, cost_of: Callable[[Layout], _Costed], budgets: Mapping[str, float]
) -> Layout | None:
    """``layout`` at the widest width whose parameters and FLOPs are within ``budgets``.

    ``budgets``: the absolute ``max_params`` / ``max_flops`` per sample of :func:`resolve`
    (others, such as a latency budget, are not the cost model's and are ignored). A network's
    cost only grows with its width, so the widest width within budget is found by bisection, in
    steps of 1/1000, up to 4x. None when no budget applies or even the thinnest network (width
    1/1000, one channel per layer) is over it.

    Example:
        >>> from types import SimpleNamespace as Cost
        >>> square = lambda layout: Cost(params=0, flops=100 * layout.width**2)
        >>> widest(Layout.hard_sharing(["a", "b"], 2), square, {"max_flops": 49}).width
        0.7
    """
    caps = {k: float(v) for k, v in budgets.items() if k in ("max_params", "max_flops")}
    if not caps:
        return None

    def fits(step: int) -> bool:
        cost = cost_of(layout.scaled(step / WIDTH_STEP))
        return cost.params <= caps.get("max_params", cost.params) and cost.flops <= caps.get(
            "max_flops", cost.flops
        )

    low, high = 1, round(MAX_WIDTH * WIDTH_STEP)
    if not fits(low):
        return None
    if fits(high):
        return layout.scaled(MAX_WIDTH)
    while high - low > 1:  # fits(low) and not fits(high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return layout.scaled(low / WIDTH_STEP)
