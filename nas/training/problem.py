"""The prepared problem: a benchmark, its resolved backbone, the heads and the device.

Resolved once per process from a study's configuration and handed to every evaluator, so the
search, the confirm stage and export all build networks from the same parts. The test split is
deliberately not on it: only :meth:`Problem.test_split`, called by the confirm stage, reads it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nas.core.layout import Layout
from nas.data.benchmark import Benchmark, Split
from nas.data.tasks import Task
from nas.model.backbones.base import Backbone
from nas.model.backbones.registry import BackboneError, BackboneSpec, backbone_from_dict
from nas.model.heads import HeadSpec
from nas.model.network import Cost, MultiTaskNetwork, build, cost, feature_shapes

__all__ = ["Metrics", "Problem", "network_from_description"]

Metrics = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Problem:
    """Everything fixed for one study; the training and validation splits live on ``device``."""

    benchmark: Benchmark
    backbone_spec: BackboneSpec
    backbone: Backbone
    device: torch.device
    train: Split
    val: Split

    @classmethod
    def prepare(cls, bench: Benchmark, spec: BackboneSpec | None, device: torch.device) -> Problem:
        """Resolve the backbone (``spec``, else the benchmark's suggestion) and move the data.

        Raises:
            BackboneError: the backbone cannot be built or does not fit the inputs.
        """
        from nas.data.health import resolve_weights

        bench = resolve_weights(bench)  # "balanced" weights become numbers, stored as such
        spec = spec or bench.backbone_spec()
        backbone = spec.create(bench.input_shape)
        try:
            feature_shapes(backbone, bench.input_shape)
        except ValueError as err:
            raise BackboneError(f"backbone {spec.name!r}: {err}") from None
        # Resident for the whole process: no per-step host copies.
        return cls(bench, spec, backbone, device, bench.train.to(device), bench.val.to(device))

    @functools.cached_property
    def trivial(self) -> dict[str, float]:
        """Each task's trivial-predictor score on validation (see nas.data.health).

        Computed when first needed: a search needs it, the confirm stage and export do not.
        """
        from nas.data.health import trivial_scores

        return trivial_scores(self.benchmark)

    def beaten(self, primary: Mapping[str, float]) -> dict[str, bool]:
        """For each task, whether ``primary`` beats its trivial predictor (see nas.data.health)."""
        from nas.data.health import beats

        return {
            t.name: beats(t, primary[t.name], self.trivial[t.name])
            for t in self.tasks
            if t.name in self.trivial
        }

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The benchmark's tasks, in output order."""
        return self.benchmark.tasks

    @property
    def heads(self) -> dict[str, HeadSpec]:
        """Each task's head."""
        return {t.name: t.head for t in self.tasks}

    @property
    def higher_is_better(self) -> dict[str, bool]:
        """Each task's primary-metric direction."""
        return {t.name: t.higher_is_better for t in self.tasks}

    def primary(self, metrics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Each task's primary metric out of all its metrics."""
        return {t.name: metrics[t.name][t.primary] for t in self.tasks}

    def build(self, layout: Layout) -> MultiTaskNetwork:
        """A freshly initialised network of ``layout`` (on the CPU; move it yourself)."""
        return build(layout, self.backbone, self.heads, self.benchmark.input_shape)

    def cost(self, layout: Layout) -> Cost:
        """Block executions, parameters and FLOPs of ``layout``'s network."""
        return cost(layout, self.backbone, self.heads, self.benchmark.input_shape)

    def test_split(self) -> Split:
        """The held-out split, on the device. Only the confirm stage may call this."""
        return self.benchmark.test.to(self.device)

    def describe(self) -> dict[str, Any]:
        """Backbone, tasks and input shape: enough to rebuild any network without the data.

        Pretrained weights are left out: they only start training, and a rebuilt network gets
        a trained network's weights (so export does not need the file).
        """
        backbone = self.backbone_spec.to_dict()
        backbone["options"].pop("pretrained", None)
        return {
            "benchmark": self.benchmark.name,
            "input_shape": list(self.benchmark.input_shape),
            "backbone": backbone,
            "tasks": [dataclasses.asdict(t) for t in self.tasks],
        }


def network_from_description(
    description: Mapping[str, Any], layout: Layout
) -> tuple[MultiTaskNetwork, list[Task]]:
    """Rebuild a network from :meth:`Problem.describe` output (or the first record version's)."""
    tasks = [Task(**t) for t in description["tasks"]]
    shape = tuple(description["input_shape"])
    backbone = backbone_from_dict(description["backbone"], shape)
    return build(layout, backbone, {t.name: t.head for t in tasks}, shape), tasks
