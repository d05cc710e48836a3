"""The package's public face: the lazy names, the names type checkers see, and __all__ agree."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import nas

INIT = Path(nas.__file__)


def _type_checking_imports() -> dict[str, str]:
    """``name -> module`` of the imports under ``if TYPE_CHECKING:`` in nas/__init__.py."""
    tree = ast.parse(INIT.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module is not None
                found.update({alias.name: imp.module for alias in imp.names})
    return found


def test_type_checkers_see_the_names_the_package_loads_lazily() -> None:
    assert _type_checking_imports() == nas._EXPORTS


def test_all_lists_every_public_name_and_each_resolves_to_its_module() -> None:
    assert nas.__all__ == ["__version__", *sorted(nas._EXPORTS)]
    for name, module in nas._EXPORTS.items():
        assert getattr(nas, name) is getattr(importlib.import_module(module), name), name
