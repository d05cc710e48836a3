"""A package face whose names load on first use (PEP 562), for packages slow to import.

``nas`` (torch), ``nas.runtime`` and ``export`` (onnx) keep ``import`` cheap this way: a name
is imported from its module when first read, then kept in the package. Each package also lists
the same names under ``TYPE_CHECKING`` for type checkers; ``tests/test_face.py`` keeps the two
equal.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, loading ``exports`` (name -> module)."""

    def load(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def names() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return load, names
