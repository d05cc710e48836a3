"""`mtlnas search --help` names every built-in the registries hold, so the two cannot drift."""

from __future__ import annotations

import re

import pytest

from nas.app.cli import build_parser
from nas.data.benchmark import benchmark_names
from nas.explore.config import PRUNERS
from nas.explore.evaluators import _REGISTRY as EVALUATORS
from nas.explore.strategies import strategy_names
from nas.model.backbones.registry import backbone_names
from nas.model.combine import METHODS
from search_spaces.base import _REGISTRY as SPACES


def _help(option: str) -> str:
    parser = build_parser()
    search = parser._subparsers._group_actions[0].choices["search"]  # type: ignore[union-attr]
    action = next(a for a in search._actions if option in a.option_strings)
    return re.sub(r"\s+", " ", action.help or "")


@pytest.mark.parametrize(
    ("option", "names"),
    [
        ("--benchmark", benchmark_names()),
        ("--backbone", backbone_names()),
        ("--space", sorted(SPACES)),
        ("--strategy", strategy_names()),
        ("--evaluator", EVALUATORS.names()),
        ("--combine", list(METHODS)),
        ("--pruner", list(PRUNERS)),
    ],
)
def test_the_help_of_each_option_names_every_built_in(option: str, names: list[str]) -> None:
    text = _help(option)
    missing = [n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]
    assert not missing, f"{option} --help does not name {missing}: {text}"
