"""The layers of the code: every import, at any depth of a module, goes down, never up or sideways.

A module may import its own layer and the layers below it. Function-level and type-checking
imports count too: an import deferred to a call is still a dependency. docs/architecture.md
draws the same layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nas", "search_spaces", "export")

# Lowest first. Layers of one rank are peers and do not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("nas.core",),
    ("nas.model",),
    ("nas.data",),
    ("search_spaces",),
    ("nas.training", "nas.runtime"),
    ("nas.explore",),
    ("nas.study",),
    ("export",),
    ("nas.app", "nas.testing"),
]


def layer_of(module: str) -> str:
    """The layer a dotted module name belongs to (the longest matching prefix)."""
    best = ""
    for rank in LAYERS:
        for layer in rank:
            if (module == layer or module.startswith(layer + ".")) and len(layer) > len(best):
                best = layer
    if not best:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")
    return best


def rank_of(layer: str) -> int:
    return next(i for i, rank in enumerate(LAYERS) if layer in rank)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of our packages in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in PACKAGES]


def violations(path: Path, module: str) -> list[str]:
    """The imports of ``path`` (the module ``module``) that go up or sideways."""
    mine = layer_of(module)
    wrong = []
    for line, name in imports(path, module):
        if name == "nas" or name.startswith("nas.__"):  # the root: its version
            continue
        theirs = layer_of(name)
        if theirs != mine and rank_of(theirs) >= rank_of(mine):
            wrong.append(f"{path.name}:{line} ({mine}) imports {name} ({theirs})")
    return wrong


SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_module_is_in_a_layer() -> None:
    for path in SOURCES:
        if module_name(path) != "nas":  # the root's lazy face names the public API only
            layer_of(module_name(path))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_go_down(path: Path) -> None:
    module = module_name(path)
    if module == "nas":
        return
    wrong = violations(path, module)
    assert not wrong, "imports that go up or sideways:\n" + "\n".join(wrong)


def test_the_check_refuses_imports_that_go_up_or_sideways(tmp_path: Path) -> None:
    source = tmp_path / "fake.py"
    source.write_text(
        "from nas.core._layout import Layout\n"
        "from nas.study._store.record import TrialRecord\n"
        "def f():\n"
        "    from export._onnx import export_trial\n"  # deferred to a call: still refused
        "    from nas.runtime import latency\n"
        "    from . import record\n"
    )
    # As a module of nas.study._store: down and its own layer pass, export/ does not.
    assert violations(source, "nas.study._store.fake") == [
        "fake.py:4 (nas.study) imports export._onnx.export_trial (export)"
    ]
    # As a module of nas.training: the layers above and a peer (runtime) are refused; the
    # relative import is its own layer's.
    lines = [v.split(" ")[0] for v in violations(source, "nas.training.fake")]
    assert lines == ["fake.py:2", "fake.py:4", "fake.py:5"]
