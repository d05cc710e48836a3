"""The contract checks of nas.testing, run over every registered part and the test plug-ins."""

from __future__ import annotations

import pytest
import torch

from nas.core import Layout
from nas.explore import SearchConfig
from nas.explore.evaluators import EVALUATOR_CATALOG, make_evaluator
from nas.explore.strategies import make_strategy, strategy_names
from nas.model.backbones import BackboneSpec, backbone_names
from nas.model.combine import METHODS, Combiner, make_combiner
from nas.study import prepare
from nas.testing import (
    check_backbone,
    check_combiner,
    check_evaluator,
    check_space,
    check_strategy,
)
from search_spaces import SearchSpace, make_space, space_names

TASKS = ("seg", "depth", "normals")
SPACES = [*space_names(), "tests.plugins:SplitOnce"]
STRATEGIES = [*strategy_names(), "tests.plugins:fixed_layouts"]


@pytest.mark.parametrize("name", SPACES)
def test_every_space_passes_the_contract(name: str) -> None:
    check_space(make_space(name, TASKS, 4))


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("space", ["branched", "adashare"])
def test_every_strategy_passes_the_contract(name: str, space: str) -> None:
    check_strategy(make_strategy(name), make_space(space, TASKS, 4))


@pytest.mark.parametrize("name", [*EVALUATOR_CATALOG.names(), "tests.plugins:untrained"])
def test_every_evaluator_passes_the_contract(name: str) -> None:
    config = SearchConfig(benchmark="digits", size="tiny", epochs=2, evaluator=name)
    if name == "supernet":
        config = config.replace(evaluator_options={"epochs": 1})
    problem, space = prepare(config, torch.device("cpu"))
    check_evaluator(make_evaluator(config), problem, space)


# One input each backbone takes: images for the convolutional ones, vectors for the MLP.
INPUTS = {"mlp": (12,), "tests.plugins:tiny_backbone": (4, 8, 8)}
BACKBONE_OPTIONS = {"resnet18": {"width": 0.25}, "resnet34": {"width": 0.25}}


@pytest.mark.parametrize("name", [*backbone_names(), "tests.plugins:tiny_backbone"])
def test_every_backbone_passes_the_contract(name: str) -> None:
    shape = INPUTS.get(name, (3, 32, 32))
    check_backbone(BackboneSpec(name, BACKBONE_OPTIONS.get(name, {})).create(shape), shape)


def test_a_backbone_whose_scaled_does_not_scale_fails_the_contract() -> None:
    from dataclasses import dataclass

    from nas.model.backbones import MLPBackbone

    @dataclass(frozen=True)
    class Stuck(MLPBackbone):
        def scaled(self, width: float) -> MLPBackbone:
            return self  # claims a width it does not give

    check_backbone(MLPBackbone(6, (8, 8)), (6,))
    with pytest.raises(AssertionError, match=r"scaled\(0.5\) block 0 has 188 parameters, 188 at"):
        check_backbone(Stuck(6, (8, 8)), (6,))


@pytest.mark.parametrize("name", [*METHODS, "tests.plugins:FirstTaskTwice"])
def test_every_loss_weighting_and_aggregation_passes_the_contract(name: str) -> None:
    check_combiner(make_combiner(name, ["a", "b"]))


def test_a_combiner_that_leaves_gradients_unset_fails_the_contract() -> None:
    class Forgetful(Combiner):
        """Reports the loss but never backpropagates it."""

        def backward(self, losses, params, scaler):  # type: ignore[no-untyped-def]
            return self.combine(losses).detach()

    with pytest.raises(AssertionError, match="Forgetful: a parameter got no"):
        check_combiner(Forgetful(["a", "b"]))


def test_a_broken_space_fails_the_contract_naming_why() -> None:
    class Forgetful(SearchSpace):
        """Its params() loses the layout: a resumed study would not get its trial back."""

        name, tasks, depth = "forgetful", TASKS, 2

        def suggest(self, trial):  # type: ignore[no-untyped-def]
            k = trial.suggest_int("k", 0, 2)
            return Layout.from_groups(TASKS, [[0, 0, 0]] * k + [[0, 1, 2]] * (2 - k))

        def params(self, layout):  # type: ignore[no-untyped-def]
            return {"k": 0}

        def options(self):  # type: ignore[no-untyped-def]
            return {}

    with pytest.raises(AssertionError, match=r"Forgetful: params \{'k': 0\} suggest"):
        check_space(Forgetful())
