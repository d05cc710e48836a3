"""`mtlnas search --help` names every built-in the registries hold, so the two cannot drift."""

from __future__ import annotations

import re
from typing import Any

import pytest

from nas.app.cli import build_parser
from nas.core import BUILTINS, Catalog
from nas.data import BENCHMARK_CATALOG as BENCHMARKS
from nas.explore import OBJECTIVES_CATALOG as OBJECTIVES
from nas.explore import PRUNERS
from nas.explore.evaluators import EVALUATOR_CATALOG as EVALUATORS
from nas.explore.strategies import STRATEGY_CATALOG as STRATEGIES
from nas.model.backbones import BACKBONE_CATALOG as BACKBONES
from nas.model.combine import AGGREGATOR_CATALOG, WEIGHTING_CATALOG
from nas.model.peers import PEER_CATALOG as PEERS
from search_spaces import SPACE_CATALOG as SPACES

# The option that takes each seam's parts.
OPTION = {
    "benchmark": "--benchmark",
    "backbone": "--backbone",
    "peer": "--confirm-peers",
    "space": "--space",
    "strategy": "--strategy",
    "evaluator": "--evaluator",
    "objectives": "--objectives",
    "loss weighting": "--combine",
    "aggregator": "--combine",
}


def _help(option: str) -> str:
    parser = build_parser()
    search = parser._subparsers._group_actions[0].choices["search"]  # type: ignore[union-attr]
    action = next(a for a in search._actions if option in a.option_strings)
    return re.sub(r"\s+", " ", action.help or "")


def test_every_seam_of_the_catalog_has_an_option() -> None:
    assert set(OPTION) == set(BUILTINS)


@pytest.mark.parametrize(
    ("option", "names"),
    [
        *((OPTION[seam], list(entries)) for seam, entries in BUILTINS.items()),
        ("--pruner", list(PRUNERS)),
    ],
    ids=[*BUILTINS, "pruner"],
)
def test_the_help_of_each_option_names_every_built_in(option: str, names: list[str]) -> None:
    text = _help(option)
    missing = [n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    assert not missing, f"{option} --help does not name {missing}: {text}"


@pytest.mark.parametrize(
    "catalog",
    [BENCHMARKS, BACKBONES, PEERS, SPACES, STRATEGIES, EVALUATORS, OBJECTIVES, WEIGHTING_CATALOG,
     AGGREGATOR_CATALOG],
    ids=lambda c: c.seam,
)  # fmt: skip
def test_every_built_in_resolves_to_a_factory(catalog: Catalog[Any]) -> None:
    for name in catalog.builtins:
        assert callable(catalog.resolve(name)), name
