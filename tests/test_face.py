"""The public face: the lazy names, the names type checkers see and __all__ agree; every public
package's names resolve; every public module is one docs/architecture.md lists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

import export
import nas
import nas.runtime

ROOT = Path(nas.__file__).resolve().parent.parent
PACKAGES = ("nas", "search_spaces", "export")
LAZY = [nas, nas.runtime, export]  # packages whose names load on first use


def _type_checking_imports(package: ModuleType) -> dict[str, str]:
    """``name -> module`` of the imports under ``if TYPE_CHECKING:`` in the package's init."""
    assert package.__file__ is not None
    tree = ast.parse(Path(package.__file__).read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module is not None
                found.update({alias.name: imp.module for alias in imp.names})
    return found


@pytest.mark.parametrize("package", LAZY, ids=lambda p: p.__name__)
def test_type_checkers_see_the_names_the_package_loads_lazily(package: ModuleType) -> None:
    assert _type_checking_imports(package) == package._EXPORTS


@pytest.mark.parametrize("package", LAZY, ids=lambda p: p.__name__)
def test_all_lists_every_lazy_name_and_each_resolves_to_its_module(package: ModuleType) -> None:
    extra = ["__version__"] if package is nas else []
    assert package.__all__ == [*extra, *sorted(package._EXPORTS)]
    for name, module in package._EXPORTS.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name), name


def public_modules() -> list[str]:
    """Every module and package no part of whose name starts with an underscore."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if not any(p.startswith("_") for p in parts):
                found.append(".".join(parts))
    return found


@pytest.mark.parametrize("module", public_modules())
def test_each_public_module_exports_what_it_lists_and_is_documented(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.__all__ names {name!r}, which it lacks"
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    assert f"`{module}`" in architecture, f"docs/architecture.md does not list {module}"
