"""Contract checks for plug-ins: the cases every built-in passes, for yours to pass too.

mtl-nas's own tests run them over every registered search space, strategy, evaluator,
backbone, peer family, loss weighting or gradient aggregation, and task kind; a plug-in's tests
call them the same way (as Optuna ships its sampler test cases)::

    from nas.testing import check_space, check_strategy
    from my_pkg.spaces import Mine

    def test_my_space():
        check_space(Mine(("seg", "depth"), 4))

Each check raises AssertionError naming what broke; none needs pytest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
import torch

from nas.core._layout import Layout
from nas.data._metrics import TaskMeter
from nas.data._tasks import Task
from nas.data.kinds import Kind, kind_of
from nas.explore._config import SearchConfig
from nas.explore.evaluators import Candidate, Evaluation, Evaluator, Preparation
from nas.explore.strategies import Strategy
from nas.model.backbones._base import Backbone, stem_of
from nas.model.backbones._measure import block_cost
from nas.model.combine import Combiner
from nas.model.peers._base import peer_layout
from nas.model.peers._contract import check_peer_network
from nas.training._problem import Problem
from search_spaces import SearchSpace

__all__ = [
    "MemoryState",
    "check_backbone",
    "check_combiner",
    "check_evaluator",
    "check_kind",
    "check_peer",
    "check_space",
    "check_strategy",
]


class MemoryState:
    """A :class:`~nas.explore.evaluators.StateKeeper` in memory: the state contract, no study."""

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    @contextmanager
    def hold(self) -> Iterator[None]:
        """No lock: one process."""
        yield

    def latest(self) -> dict[str, Any] | None:
        """The last saved checkpoint, or None."""
        return self.saved[-1] if self.saved else None

    def save(self, checkpoint: dict[str, Any]) -> None:
        """Keep ``checkpoint`` as the latest."""
        self.saved.append(checkpoint)


def _draws(space: SearchSpace, sampler: optuna.samplers.BaseSampler, n: int) -> list[Layout]:
    study = optuna.create_study(sampler=sampler)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return out


def check_space(space: SearchSpace, draws: int = 20) -> None:
    """A search space: valid layouts, parameters that round-trip, options that rebuild it.

    Checks: every drawn layout has the space's tasks and depth; ``params(layout)`` given back
    to ``suggest`` (a fixed trial) returns the same layout; its parameter names and choices do
    not depend on the draw (a resumed study keeps its space); ``options()`` is JSON-like; it
    reaches its own ``cheapest()`` layout; when the space lists ``distributions()``, every drawn
    parameter is among them.
    """
    name = type(space).__name__
    assert space.tasks and space.depth >= 1, f"{name}: needs tasks and a depth"
    seen: dict[str, object] = {}
    for layout in _draws(space, optuna.samplers.RandomSampler(seed=0), draws):
        assert layout.tasks == space.tasks, f"{name}: layout tasks {layout.tasks}"
        assert layout.depth == space.depth, f"{name}: layout depth {layout.depth}"
        params = space.params(layout)
        again = space.suggest(optuna.trial.FixedTrial(params))
        assert again == layout, f"{name}: params {params} suggest {again.summary()}"
        for key, value in params.items():
            seen.setdefault(key, type(value))
    assert isinstance(space.options(), dict), f"{name}: options() must return a dict"
    cheapest = space.cheapest()  # what a budget is checked against
    assert space.reaches(cheapest), f"{name}: cannot reach its cheapest() {cheapest.summary()}"
    try:
        dists = space.distributions()
    except Exception:  # optional: only the supernet evaluator needs it
        return
    unknown = sorted(set(seen) - set(dists))
    assert not unknown, f"{name}: parameters {unknown} missing from distributions()"


def check_strategy(strategy: Strategy, space: SearchSpace, draws: int = 8) -> None:
    """A strategy: seeded samplers that repeat their draws, and reachable layouts of the space.

    Checks: ``sampler_for(space, seed)`` is an Optuna sampler, and two built with one seed draw
    the same layouts (one process stays reproducible); ``layouts(space, config)`` gives layouts
    with the space's tasks and depth that the space reaches (they are queued as its parameters).
    """
    name = type(strategy).__name__
    sampler = strategy.sampler_for(space, 5)
    assert isinstance(sampler, optuna.samplers.BaseSampler), f"{name}: sampler_for() is no sampler"
    first = _draws(space, strategy.sampler_for(space, 5), draws)
    assert first == _draws(space, strategy.sampler_for(space, 5), draws), (
        f"{name}: one seed drew twice"
    )
    for layout in strategy.layouts(space, SearchConfig()):
        assert isinstance(layout, Layout), f"{name}: layouts() gave {type(layout).__name__}"
        assert (layout.tasks, layout.depth) == (space.tasks, space.depth), (
            f"{name}: layout {layout.summary()} is not of the space's tasks and depth"
        )
        assert space.reaches(layout), f"{name}: the space cannot reach {layout.summary()}"


def check_evaluator(
    evaluator: Evaluator, problem: Problem, space: SearchSpace, layout: Layout | None = None
) -> None:
    """An evaluator: prepared once, finite metrics for every task, stopped on request.

    Checks: it is an :class:`~nas.explore.evaluators.Evaluator` (``evaluate`` and ``prepare``);
    ``prepare`` (with a :class:`MemoryState`) returns a line or None; ``evaluate`` returns an
    :class:`~nas.explore.evaluators.Evaluation` with each task's metrics (finite primary ones);
    every progress report is an Evaluation; an exception raised by the progress callback stops
    the evaluation and reaches the caller (that is how pruning works).
    """
    name = type(evaluator).__name__
    assert isinstance(evaluator, Evaluator), f"{name}: needs evaluate() and prepare()"
    line = evaluator.prepare(Preparation("contract", problem, space, MemoryState(), False))
    assert line is None or isinstance(line, str), f"{name}: prepare() gave {line!r}"
    tasks = [t.name for t in problem.tasks]
    layout = layout or Layout.hard_sharing(tasks, problem.backbone.depth)
    reports: list[Evaluation] = []
    result = evaluator.evaluate(problem, Candidate(layout), reports.append)
    assert isinstance(result, Evaluation), f"{name}: evaluate() gave {type(result).__name__}"
    assert set(result.metrics) == set(tasks), f"{name}: metrics for {sorted(result.metrics)}"
    for task, value in problem.primary(result.metrics).items():
        assert math.isfinite(value), f"{name}: task {task!r} scored {value}"
    assert all(isinstance(r, Evaluation) for r in reports), f"{name}: progress got no Evaluation"

    class Stop(Exception):
        pass

    def stop(evaluation: Evaluation) -> None:
        raise Stop

    if reports:  # an evaluator that reports progress must stop when the callback raises
        try:
            evaluator.evaluate(problem, Candidate(layout), stop)
        except Stop:
            return
        raise AssertionError(f"{name}: a raising progress callback did not stop evaluate()")


def check_backbone(backbone: Backbone, input_shape: tuple[int, ...]) -> None:
    """A backbone: fresh blocks that chain, skips that keep the shape, costs that measure.

    Checks: ``depth`` >= 1; two calls of ``block(d)`` give two modules sharing no parameter
    (each task's copy trains alone); a batch of ``input_shape`` runs through the stem (when
    there is one) and every block with finite outputs; a task skipping block ``d`` gets the
    same shape as one running it (``skip(d)``, identity when None); every block's parameters
    and FLOPs can be measured. A backbone with the optional ``scaled(width)`` (the equal-cost
    baselines of a budgeted study need it) passes these checks at half and double width, with
    the same depth, and fewer (more) parameters in every block with parameters.
    """
    _check_blocks(backbone, input_shape)
    make = getattr(backbone, "scaled", None)
    if not callable(make):
        return
    name = type(backbone).__name__
    for width in (0.5, 2.0):
        other = make(width)
        assert other.depth == backbone.depth, f"{name}: scaled({width}) changed the depth"
        _check_blocks(other, input_shape)
        for d in range(backbone.depth):
            mine = sum(p.numel() for p in backbone.block(d).parameters())
            theirs = sum(p.numel() for p in other.block(d).parameters())
            assert mine == 0 or (theirs < mine if width < 1 else theirs > mine), (
                f"{name}: scaled({width}) block {d} has {theirs} parameters, {mine} at width 1"
            )


def _check_blocks(backbone: Backbone, input_shape: tuple[int, ...]) -> None:
    name = type(backbone).__name__
    assert isinstance(backbone, Backbone), f"{name}: needs depth, block() and skip()"
    assert backbone.depth >= 1, f"{name}: depth {backbone.depth}"
    torch.manual_seed(0)
    x = torch.randn(2, *input_shape)
    stem = stem_of(backbone)
    with torch.no_grad():
        if stem is not None:
            x = stem.eval()(x)
        for d in range(backbone.depth):
            one, two = backbone.block(d), backbone.block(d)
            shared = {id(p) for p in one.parameters()} & {id(p) for p in two.parameters()}
            assert not shared, f"{name}: block({d}) instances share parameters"
            skip = backbone.skip(d)
            skipped = x if skip is None else skip(x)
            cost = block_cost(backbone, d, tuple(x.shape[1:]))
            assert cost.params >= 0 and cost.flops >= 0, f"{name}: block {d} cost {cost}"
            x = one.eval()(x)
            assert cost.out_shape == tuple(x.shape[1:]), f"{name}: block {d} measured {cost}"
            assert torch.isfinite(x).all(), f"{name}: block {d} gave non-finite values"
            assert skipped.shape == x.shape, (
                f"{name}: skipping block {d} gives {tuple(skipped.shape)}, running it "
                f"{tuple(x.shape)}"
            )


class _NoScale:
    def scale(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs


def check_combiner(combiner: Combiner, steps: int = 3) -> None:
    """A loss weighting or gradient aggregation, made for the tasks ``a`` and ``b``.

    On a network with a trunk both tasks use and one head each, for ``steps`` steps: every
    parameter gets a finite gradient, a head only its own task's (a combination method may
    scale it, never mix in the other task's), and the reported loss is a finite scalar; the
    method's own parameters are trainable, and it takes the end of an epoch.
    """
    name = type(combiner).__name__
    assert list(combiner.tasks) == ["a", "b"], f"{name}: tasks {combiner.tasks}, made for a, b"
    torch.manual_seed(0)
    trunk = torch.nn.Linear(4, 3)
    heads = {t: torch.nn.Linear(3, 1) for t in ("a", "b")}
    params = [*trunk.parameters(), *heads["a"].parameters(), *heads["b"].parameters()]
    for p in combiner.trained_parameters():
        assert p.requires_grad, f"{name}: a trained parameter that takes no gradient"
    x = torch.randn(8, 4)
    for _ in range(steps):
        for p in params:
            p.grad = None
        feats = trunk(x)
        losses = {t: (heads[t](feats) ** 2).mean() for t in ("a", "b")}
        # Each head's gradient from its own task alone, before the method backpropagates.
        own = {
            t: torch.autograd.grad(losses[t], list(heads[t].parameters()), retain_graph=True)
            for t in ("a", "b")
        }
        loss = combiner.backward(losses, params, _NoScale())
        assert loss.dim() == 0 and torch.isfinite(loss), f"{name}: reported loss {loss}"
        for p in params:
            assert p.grad is not None and torch.isfinite(p.grad).all(), (
                f"{name}: a parameter got no or a non-finite gradient"
            )
        for task, other in (("a", "b"), ("b", "a")):
            for p, g in zip(heads[task].parameters(), own[task], strict=True):
                assert p.grad is not None
                cosine = torch.nn.functional.cosine_similarity(p.grad.flatten(), g.flatten(), 0)
                assert cosine > 0.999 or g.abs().max() < 1e-12, (
                    f"{name}: head {task}'s gradient is not its own task's (task {other} "
                    "leaked into it)"
                )
        combiner.end_epoch({"a": float(losses["a"]), "b": float(losses["b"])})


def check_kind(kind: Kind, out: int = 3, hw: tuple[int, ...] = (6, 8)) -> None:
    """The task-kind contract: formats, markers, losses, metrics, statistics and geometry agree.

    ``kind`` must be registered (:func:`nas.data.kinds.register_kind`); ``out`` is used where
    the kind does not fix it, ``hw`` for dense kinds.
    """
    name = f"kind {kind.name!r}"
    assert kind_of(kind.name) is not None, f"{name}: register it before checking it"
    task = Task("t", kind.name, max(out, kind.min_out))
    out, hw = task.out, hw if kind.dense else ()
    gen = torch.Generator().manual_seed(0)
    y = kind.example(out, 4, hw, gen)
    none = kind.unlabelled(out, 4, hw)
    for what, t in (("example", y), ("unlabelled", none)):
        assert tuple(t.shape) == (4, *kind.target_shape(out, hw)), f"{name}: {what} shape"
        assert t.dtype == kind.dtype, f"{name}: {what} is {t.dtype}, not {kind.dtype}"
        assert kind.value_problem(t, out) is None, f"{name}: {what} refused by value_problem"
    assert bool(kind.labelled(y).all()), f"{name}: an example sample is not labelled"
    assert not bool(kind.labelled(none).any()), f"{name}: an unlabelled marker counts as a label"
    shape = kind.output_shape(out, hw)
    pred = torch.randn((4, *shape), generator=gen, requires_grad=True)
    loss = kind.loss(task, pred, y)
    assert loss.dim() == 0 and math.isfinite(float(loss.detach())), f"{name}: loss {loss}"
    loss.backward()  # type: ignore[no-untyped-call]
    assert pred.grad is not None and bool(torch.isfinite(pred.grad).all()), f"{name}: gradient"
    empty = kind.loss(task, pred.detach(), none)
    assert float(empty) == 0.0, f"{name}: a batch without labels has loss {float(empty)}, not 0"
    meter = TaskMeter(task)
    meter.update(pred.detach()[:2], y[:2])
    meter.update(pred.detach()[2:], none[2:])  # unlabelled samples count in no metric
    scores = meter.compute()
    assert list(scores) == list(kind.metrics), f"{name}: scores {list(scores)}"
    assert all(math.isfinite(v) for v in scores.values()), f"{name}: scores {scores}"
    alone = TaskMeter(task)
    alone.update(pred.detach()[:2], y[:2])
    assert alone.compute() == scores, f"{name}: unlabelled samples changed the metrics"
    both = kind.label_stats(torch.cat([y, none]), out)
    parts = [kind.label_stats(y, out), kind.label_stats(none, out)]
    assert set(both) == set(parts[0]), f"{name}: label_stats keys differ between batches"
    for k in both:
        assert torch.allclose(both[k].double(), (parts[0][k] + parts[1][k]).double()), (
            f"{name}: label_stats[{k!r}] does not add up over batches"
        )
    trivial = kind.trivial(task, both, shape)
    assert tuple(trivial.shape) == shape, f"{name}: trivial output {tuple(trivial.shape)}"
    if kind.weights != "none":
        w = kind.balanced(task, both)
        n = 1 if kind.weights == "positive" else out
        assert len(w) == n and all(math.isfinite(v) for v in w), f"{name}: balanced {w}"
    assert isinstance(kind.output_meaning(out), str) and kind.output_meaning(out)
    _check_transform(kind, name, y[0], none[0])


def _check_transform(kind: Kind, name: str, y: torch.Tensor, none: torch.Tensor) -> None:
    def same(t: torch.Tensor, mode: str) -> torch.Tensor:
        return t.clone()

    def crop(t: torch.Tensor, mode: str) -> torch.Tensor:  # the top-left half, blown up
        small = t[..., : t.shape[-2] // 2, : t.shape[-1] // 2]
        big = torch.nn.functional.interpolate(
            small.reshape(1, -1, *small.shape[-2:]).float(), size=t.shape[-2:], mode="nearest"
        )
        return big.reshape(t.shape).to(t.dtype)

    kept = kind.transform(y, same, 1.0, False)
    assert torch.equal(kept, y), f"{name}: transform without scale or flip changed the target"
    twice = kind.transform(kind.transform(y, same, 1.0, True), same, 1.0, True)
    assert torch.equal(twice, y), f"{name}: flipping twice is not the identity"
    zoomed = kind.transform(y, crop, 2.0, True)
    assert zoomed.shape == y.shape and zoomed.dtype == y.dtype, f"{name}: transform shape/type"
    marker = kind.transform(none, crop, 2.0, True)
    assert not bool(kind.labelled(marker[None]).any()), f"{name}: a moved marker became a label"


def check_peer(
    spec: str, backbone: Backbone, input_shape: tuple[int, ...], tasks: int = 3, export: bool = True
) -> None:
    """A peer family: a body of one feature map per task, exact costs, a parity export.

    ``spec``: the peer's name or ``package.module:function`` (what its Layout stores), for a
    backbone and input shape it fits. Checks: the factory makes a
    :class:`~nas.model.peers.Peer` whose ``trunk`` is ``independent`` or ``hard_sharing`` and
    whose ``fits`` accepts ``backbone``; two calls of ``body`` share no parameter; the body maps
    a batch of stem outputs to ``tasks`` feature maps of the last block's shape, and every one
    of its parameters gets a gradient; the cost model counts exactly the built network's
    parameters, at full and (a backbone with ``scaled``) half width; with ``export``, the ONNX
    graph has one output per task, named by it, and onnxruntime runs it within the parity
    tolerance.
    """
    from nas.model._heads import HeadSpec
    from nas.model._network import build
    from nas.runtime._onnx import to_onnx, verify

    check_peer_network(spec, backbone, input_shape, tasks)
    if not export:
        return
    names = [f"t{i}" for i in range(tasks)]
    heads = {n: HeadSpec("pooled", 2) for n in names}
    net = build(peer_layout(spec, names, backbone.depth), backbone, heads, input_shape).eval()
    model = to_onnx(net)
    outputs = [o.name for o in model.graph.output]
    assert outputs == names, f"{spec}: ONNX outputs {outputs}, tasks {names}"
    diffs, _, tolerance = verify(model, net, fp16=False)
    worst = max(diffs.values())
    assert worst <= tolerance, f"{spec}: onnxruntime differs by {worst:.2e} > {tolerance}"
