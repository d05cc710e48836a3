"""The search-space contract and the registry that lets the CLI and configs pick one by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import optuna

from nas.layout import Layout

__all__ = ["SearchSpace", "make_space", "register", "space_names"]


@runtime_checkable
class SearchSpace(Protocol):
    """Maps an Optuna trial to a Layout, and a Layout back to the trial's parameters.

    Implementations are the only code that calls ``trial.suggest_*``. Their parameter names
    and choices depend only on the space's own options, so a resumed study keeps its space.
    """

    name: str

    @property
    def tasks(self) -> tuple[str, ...]:
        """Task names, in output order."""
        ...

    @property
    def depth(self) -> int:
        """Number of backbone blocks."""
        ...

    def suggest(self, trial: optuna.trial.BaseTrial) -> Layout:
        """Sample a valid Layout through ``trial``."""
        ...

    def params(self, layout: Layout) -> dict[str, Any]:
        """Trial parameters that make :meth:`suggest` return ``layout`` (for enqueue_trial).

        Raises:
            ValueError: ``layout`` is not reachable in this space; the message says why.
        """
        ...

    def options(self) -> dict[str, Any]:
        """The keyword options that rebuild this space with :func:`make_space`."""
        ...


_T = TypeVar("_T")
_REGISTRY: dict[str, Callable[..., SearchSpace]] = {}


def register(name: str) -> Callable[[_T], _T]:
    """Class decorator: make a search space available under ``name``."""

    def add(cls: _T) -> _T:
        if name in _REGISTRY:
            raise ValueError(f"search space {name!r} is registered twice")
        _REGISTRY[name] = cls  # type: ignore[assignment]
        return cls

    return add


def space_names() -> list[str]:
    """Registered search-space names."""
    return sorted(_REGISTRY)


def make_space(
    name: str, tasks: Sequence[str], depth: int, options: Mapping[str, Any] | None = None
) -> SearchSpace:
    """Build the registered search space ``name`` for these tasks and backbone depth.

    Raises:
        ValueError: unknown name or bad options; the message lists what is accepted.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown search space {name!r}; choose one of {space_names()}")
    try:
        return _REGISTRY[name](tuple(tasks), depth, **dict(options or {}))
    except TypeError as err:
        raise ValueError(f"bad options for search space {name!r}: {err}") from None


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
