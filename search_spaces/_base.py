"""The search-space contract and the registry that lets the CLI and configs pick one by name."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import optuna

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.core._plugins import Catalog
from nas.model.combine import DEFAULT_SEARCH, is_search, search_choices

__all__ = [
    "SPACE_CATALOG",
    "LOSS_WEIGHTINGS",
    "SearchSpace",
    "SpaceError",
    "make_space",
    "register",
    "space_names",
]

LOSS_WEIGHTINGS = DEFAULT_SEARCH  # what "search" chooses between (kept for old importers)


Rows = tuple[tuple[int | None, ...], ...]  # per depth, per task: the block copy run, or None


class SpaceError(UserError, ValueError):
    """An unknown search space or bad options for one."""


class SearchSpace(abc.ABC):
    """Maps an Optuna trial to a candidate, and a Layout back to the trial's parameters.

    Implementations are the only code that calls ``trial.suggest_*``. Their parameter names
    and choices depend only on the space's own options, so a resumed study keeps its space.
    Subclasses set ``name`` and the ``tasks`` and ``depth`` they were built for.
    """

    name: str
    tasks: tuple[str, ...]  # task names, in output order
    depth: int  # number of backbone blocks

    @abc.abstractmethod
    def suggest(self, trial: optuna.trial.BaseTrial) -> Layout:
        """Sample a valid Layout through ``trial``."""

    @abc.abstractmethod
    def params(self, layout: Layout) -> dict[str, Any]:
        """Trial parameters that make :meth:`suggest` return ``layout`` (for enqueue_trial).

        Raises:
            ValueError: ``layout`` is not reachable in this space; the message says why.
        """

    @abc.abstractmethod
    def options(self) -> dict[str, Any]:
        """The keyword options that rebuild this space with :func:`make_space`."""

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """Every parameter :meth:`suggest` may draw, with its choices (a supernet samples them).

        Raises:
            SpaceError: the space does not list its parameters (a space of your own may).
        """
        raise SpaceError(
            f"search space {self.name!r} does not list its parameters (distributions()); "
            "the supernet evaluator needs them"
        )

    def pool(self) -> list[int]:
        """Block copies per depth a supernet of this space holds.

        Enough for every layout of the space and for both baselines (independent networks need
        one copy per task).
        """
        return [len(self.tasks)] * self.depth

    def instance_rows(self, layout: Layout, params: Mapping[str, Any]) -> Rows:
        """Which copy of each block each task runs (``None``: skip), as a supernet sees it.

        A Layout renumbers copies canonically; a supernet must know the copy itself. By default
        the canonical numbers are the copies.
        """
        del params
        return layout.rows

    def cheapest(self) -> Layout:
        """The layout of the space that runs the fewest blocks: hard sharing unless it skips.

        No budget below its cost can be met (``--max-cost`` is refused below it).
        """
        return Layout.hard_sharing(self.tasks, self.depth)

    def reaches(self, layout: Layout) -> bool:
        """True when :meth:`suggest` can return ``layout`` (at the backbone's own width)."""
        if layout.width != 1:
            return False
        try:
            self.params(layout)
        except ValueError:
            return False
        return True

    def suggest_loss_weighting(self, trial: optuna.trial.BaseTrial, configured: str) -> str:
        """The study's combination method, or, when it is ``search[:a,b]``, one chosen by ``trial``.

        Methods are :mod:`nas.model.combine`'s: loss weightings (equal, uncertainty, dwa, gradnorm)
        and gradient aggregations (upgrad, mgda, pcgrad, ...).
        """
        if not is_search(configured):
            return configured
        return str(trial.suggest_categorical("loss_weighting", search_choices(configured)))


_Space = TypeVar("_Space", bound=type[SearchSpace])
SPACE_CATALOG: Catalog[SearchSpace] = Catalog(
    "space", SearchSpace, SpaceError, word="search space",
    refusal="{what} made a {got}, not a search_spaces.SearchSpace",
    bad_options="bad options for {what}: {err}", own="package.module:Class",
)  # fmt: skip


def register(name: str) -> Callable[[_Space], _Space]:
    """Class decorator: make a search space of your own available under ``name``."""
    return SPACE_CATALOG.register(name)


def space_names() -> list[str]:
    """Built-in and registered search-space names."""
    return SPACE_CATALOG.names()


def make_space(
    name: str, tasks: Sequence[str], depth: int, options: Mapping[str, Any] | None = None
) -> SearchSpace:
    """Build the search space ``name`` (built-in, registered, or ``package.module:Class``).

    A space of your own is called as ``Class(tasks, depth, **options)``.

    Raises:
        SpaceError: unknown name or bad options; the message lists what is accepted.
    """
    return SPACE_CATALOG.make(name, options, tuple(tasks), depth, wrap=(TypeError, ValueError))


def check_layout(space: SearchSpace, layout: Layout) -> None:
    """Raise ValueError unless ``layout`` has the space's tasks and depth."""
    if layout.tasks != space.tasks:
        raise ValueError(f"layout tasks {list(layout.tasks)} != space tasks {list(space.tasks)}")
    if layout.depth != space.depth:
        raise ValueError(f"layout depth {layout.depth} != space depth {space.depth}")


def check_basics(tasks: tuple[str, ...], depth: int) -> None:
    """Shared validation of a space's tasks and depth."""
    if not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(f"a search space needs unique task names, got {list(tasks)}")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
