"""Prepare what a study's configuration describes: the Problem and the search space.

Separate from opening or creating the study: a command prepares from the options the user
typed (every error found before the database is touched), and again from the stored
configuration only when an existing study's differs.
"""

from __future__ import annotations

import torch

from nas.data._benchmark import load_benchmark
from nas.explore._config import SearchConfig
from nas.model.backbones._registry import BackboneSpec
from nas.training._problem import Problem
from search_spaces import SearchSpace, make_space

__all__ = ["prepare"]


def prepare(config: SearchConfig, device: torch.device) -> tuple[Problem, SearchSpace]:
    """Load the benchmark, resolve the backbone once, and build the search space."""
    bench = load_benchmark(
        config.benchmark,
        size=config.size,
        seed=config.seed,
        root=config.data,
        **config.benchmark_options,
    )
    if config.tasks:  # a subset of the benchmark's tasks
        from nas.data._merge import keep_tasks

        bench = keep_tasks(bench, config.tasks).validate()
    if config.labels:  # the few-labels regime: hide all but a share of some tasks' labels
        from nas.data._merge import keep_labels

        bench = keep_labels(bench, config.labels, config.seed).validate()
    spec = None  # the benchmark's own suggestion
    if config.backbone:
        spec = BackboneSpec(config.backbone, config.backbone_options)
    elif config.backbone_options:  # options alone adjust the benchmark's suggestion
        suggested = bench.backbone_spec()
        spec = BackboneSpec(suggested.name, {**suggested.options, **config.backbone_options})
    if config.pretrained is not None:
        spec = spec or bench.backbone_spec()
        spec = BackboneSpec(spec.name, {**spec.options, "pretrained": config.pretrained})
    problem = Problem.prepare(bench, spec, device)
    space = make_space(config.space, bench.task_names, problem.backbone.depth, config.space_options)
    return problem, space
