"""How the tasks are trained together: loss weightings and gradient aggregations, by name.

``--combine NAME`` (stored with the study as its ``loss_weighting``) picks one for every
trial; ``--combine search`` makes equal or uncertainty weighting a parameter of the search, and
``--combine search:equal,upgrad,pcgrad`` searches the methods named, jointly with the layout.
Your own method is named by import path, ``--combine package.module:Mine``: a callable of the
task names (a :class:`Combiner` subclass, or a function) that returns a :class:`Combiner`.

Example:
    >>> make_combiner("dwa", ["a", "b"]).weights.tolist()
    [1.0, 1.0]
    >>> search_choices("search:equal,pcgrad")
    ['equal', 'pcgrad']
"""

from __future__ import annotations

from collections.abc import Sequence

from nas.core._errors import UserError
from nas.core._plugins import BUILTINS, Catalog
from nas.model.combine._base import Combiner, Scaler, users_of

__all__ = [
    "AGGREGATORS",
    "AGGREGATOR_CATALOG",
    "DEFAULT_SEARCH",
    "CombineError",
    "METHODS",
    "SEARCH",
    "WEIGHTINGS",
    "WEIGHTING_CATALOG",
    "Combiner",
    "Scaler",
    "check_combine",
    "enqueued_choice",
    "is_plugin",
    "is_search",
    "make_combiner",
    "search_choices",
    "users_of",
]

WEIGHTINGS = tuple(BUILTINS["loss weighting"])
AGGREGATORS = tuple(BUILTINS["aggregator"])
METHODS = (*WEIGHTINGS, *AGGREGATORS)
SEARCH = "search"  # alone: equal or uncertainty; "search:a,b": the methods named
DEFAULT_SEARCH = ("equal", "uncertainty")


class CombineError(UserError, ValueError):
    """A combination method that cannot be found or made."""


_REFUSAL = "{what} gave a {got}, not a nas.model.combine.Combiner"
WEIGHTING_CATALOG: Catalog[Combiner] = Catalog(
    "loss weighting", Combiner, CombineError, word="combination method", refusal=_REFUSAL,
    own="package.module:Name",
)  # fmt: skip
AGGREGATOR_CATALOG: Catalog[Combiner] = Catalog(
    "aggregator", Combiner, CombineError, word="combination method", refusal=_REFUSAL
)


def is_plugin(name: str) -> bool:
    """Whether ``name`` is a user's method by import path (``package.module:Name``)."""
    return ":" in name and not is_search(name)


def make_combiner(name: str, tasks: Sequence[str]) -> Combiner:
    """The combination method ``name`` (built-in, or ``package.module:Name``) for ``tasks``.

    A method of your own is called with the task names and gives a :class:`Combiner`.

    Raises:
        CombineError: an unknown name, or a plug-in that does not give a Combiner.
    """
    if name in AGGREGATOR_CATALOG:
        return AGGREGATOR_CATALOG.make(name, None, list(tasks))
    if name in WEIGHTING_CATALOG or is_plugin(name):
        return WEIGHTING_CATALOG.make(name, None, list(tasks))
    raise CombineError(f"unknown combination method {name!r}; choose one of {list(METHODS)}")


def search_choices(value: str) -> list[str]:
    """The methods a ``search`` or ``search:a,b`` value chooses between."""
    if value == SEARCH:
        return list(DEFAULT_SEARCH)
    return [m.strip() for m in value.removeprefix(SEARCH + ":").split(",")]


def is_search(value: str) -> bool:
    """Whether ``value`` makes the method a parameter of the search."""
    return value == SEARCH or value.startswith(SEARCH + ":")


def enqueued_choice(value: str) -> str:
    """The method a queued trial (a baseline, a strategy's layout) of a searched study uses.

    Equal weights when the search may choose them, else the first method named.
    """
    choices = search_choices(value)
    return "equal" if "equal" in choices else choices[0]


def _known(method: str) -> bool:
    if method in METHODS:
        return True
    if not is_plugin(method):
        return False
    make_combiner(method, ["a", "b"])  # it imports and gives a Combiner, or its error says why
    return True


def check_combine(value: str) -> str | None:
    """Why ``value`` is not a method, ``search`` or ``search:a,b,...``; None when it is.

    A method by import path must import (its own error is the message when it does not).
    """
    try:
        if _known(value):
            return None
    except CombineError as err:
        return str(err)
    if is_search(value):
        choices = search_choices(value)
        try:
            bad = [m for m in choices if not _known(m)]
        except CombineError as err:
            return str(err)
        if bad or len(choices) < 2 or len(set(choices)) != len(choices):
            return (
                f"{value!r} must name two or more distinct methods after 'search:', from "
                f"{list(METHODS)}, e.g. search:equal,upgrad,pcgrad"
            )
        return None
    return (
        f"{value!r} is not one of {list(METHODS)}, search, search:NAME,NAME,..., or "
        "package.module:Name"
    )
