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

from nas.core._layout import Layout
from nas.data._benchmark import Benchmark
from nas.data._source import Source, open_split
from nas.data._split import BenchmarkError
from nas.data._tasks import Task
from nas.model._heads import HeadSpec
from nas.model._network import Cost, TaskNetwork, build, cost, feature_shapes
from nas.model.backbones._base import Backbone
from nas.model.backbones._registry import BackboneError, BackboneSpec, backbone_from_dict

__all__ = ["Metrics", "Problem", "network_from_description"]

Metrics = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Problem:
    """Everything fixed for one study; the training and validation splits read onto ``device``.

    ``train`` augments (when the benchmark does) only when asked for an epoch's batches.
    """

    benchmark: Benchmark
    backbone_spec: BackboneSpec
    backbone: Backbone
    device: torch.device
    train: Source
    val: Source

    @classmethod
    def prepare(cls, bench: Benchmark, spec: BackboneSpec | None, device: torch.device) -> Problem:
        """Resolve the backbone (``spec``, else the benchmark's suggestion) and move the data.

        Raises:
            BackboneError: the backbone cannot be built or does not fit the inputs.
        """
        spec = spec or bench.backbone_spec()
        backbone = spec.create(bench.input_shape)
        try:
            feature_shapes(backbone, bench.input_shape)
        except ValueError as err:
            raise BackboneError(f"backbone {spec.name!r}: {err}") from None
        # Opened once for the whole process: resident data stays on the device, a streamed
        # split keeps its loader workers.
        train, val = open_split(bench, "train", device), open_split(bench, "val", device)
        problem = cls(bench, spec, backbone, device, train, val)
        if any(t.weights == "balanced" for t in bench.tasks):
            from nas.data._health import resolve_weights

            # "balanced" weights become numbers, stored as such.
            stats = problem.train_stats
            problem = dataclasses.replace(problem, benchmark=resolve_weights(bench, stats))
            problem.__dict__["train_stats"] = stats  # one pass over the labels, not two
        return problem

    @functools.cached_property
    def train_stats(self) -> dict[str, Any]:
        """Each task's label statistics over the training split (one pass, when first needed)."""
        from nas.data._health import read_stats

        stats = read_stats(self.tasks, self.train)
        _need_labels(stats, "train", self.benchmark.name)
        return stats

    @functools.cached_property
    def _trivial_and_val(self) -> tuple[dict[str, float], dict[str, Any]]:
        from nas.data._health import trivial_scores_of

        scores, val = trivial_scores_of(
            self.tasks, self.train_stats, self.val, self.benchmark.input_shape
        )
        _need_labels(val, "val", self.benchmark.name)
        return scores, val

    @property
    def trivial(self) -> dict[str, float]:
        """Each task's trivial-predictor score on validation (see nas.data._health).

        Computed when first needed: a search needs it, the confirm stage and export do not.
        """
        return self._trivial_and_val[0]

    def label_shares(self) -> dict[str, dict[str, float]]:
        """Per task, the share of each split's samples that carry its label.

        Training and validation as the search reads them; test only when it is resident
        (counting a streamed test split would read it whole).
        """
        splits = {"train": self.train_stats, "val": self._trivial_and_val[1]}
        test = self.benchmark.label_shares()
        return {
            t.name: {
                **{
                    name: float(stats[t.name]["labelled"]) / max(1, int(stats[t.name]["n"]))
                    for name, stats in splits.items()
                },
                **{k: v for k, v in test[t.name].items() if k == "test"},
            }
            for t in self.tasks
        }

    def beaten(self, primary: Mapping[str, float]) -> dict[str, bool]:
        """For each task, whether ``primary`` beats its trivial predictor (see nas.data._health)."""
        from nas.data._health import beats

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

    def build(self, layout: Layout) -> TaskNetwork:
        """A freshly initialised network of ``layout`` (on the CPU; move it yourself)."""
        return build(layout, self.backbone, self.heads, self.benchmark.input_shape)

    def cost(self, layout: Layout) -> Cost:
        """Block executions, parameters and FLOPs of ``layout``'s network."""
        return cost(layout, self.backbone, self.heads, self.benchmark.input_shape)

    def test_split(self) -> Source:
        """The held-out split, read onto the device. Only the confirm stage may call this."""
        return open_split(self.benchmark, "test", self.device)

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


def _need_labels(stats: Mapping[str, Mapping[str, Any]], split: str, bench: str) -> None:
    for task, s in stats.items():
        if int(s["labelled"]) == 0:
            raise BenchmarkError(
                f"benchmark {bench!r}, split {split!r}, task {task!r}: no sample has a label; "
                "every split needs some labels for each task"
            )


def network_from_description(
    description: Mapping[str, Any], layout: Layout
) -> tuple[TaskNetwork, list[Task]]:
    """Rebuild a network from :meth:`Problem.describe` output (or the first record version's)."""
    tasks = [Task(**t) for t in description["tasks"]]
    shape = tuple(description["input_shape"])
    backbone = backbone_from_dict(description["backbone"], shape)
    return build(layout, backbone, {t.name: t.head for t in tasks}, shape), tasks
