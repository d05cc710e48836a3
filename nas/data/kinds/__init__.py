"""Task kinds: one object per kind of target (see :mod:`nas.data.kinds._base`).

A new kind is a module with a :class:`~nas.data.kinds._base.Kind` subclass and one line below
(or :func:`register_kind` from your own code); ``nas.testing.check_kind`` runs the contract over
it, as the tests do over every registered kind.
"""

from __future__ import annotations

from nas.data.kinds._base import Kind
from nas.data.kinds._binary import Edges, Saliency
from nas.data.kinds._classification import IGNORE_INDEX, Classification
from nas.data.kinds._depth import Depth
from nas.data.kinds._multilabel import Multilabel
from nas.data.kinds._normals import Normals
from nas.data.kinds._regression import Regression
from nas.data.kinds._segmentation import Segmentation

__all__ = ["IGNORE_INDEX", "Kind", "kind_names", "kind_of", "register_kind"]

_KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Classification(),
        Multilabel(),
        Regression(),
        Segmentation(),
        Depth(),
        Normals(),
        Edges(),
        Saliency(),
    )
}


def register_kind(kind: Kind) -> Kind:
    """Make ``kind`` available as ``Task(kind=kind.name)``; returns it.

    Raises:
        ValueError: the name is taken by another kind.
    """
    taken = _KINDS.get(kind.name)
    if taken is not None and type(taken) is not type(kind):
        raise ValueError(f"task kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> Kind | None:
    """The kind called ``name``, or None."""
    return _KINDS.get(name)


def kind_names() -> tuple[str, ...]:
    """Every registered kind's name."""
    return tuple(_KINDS)
