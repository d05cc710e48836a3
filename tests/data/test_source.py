"""Splits read batch by batch: a streamed Dataset and resident tensors give the same batches."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch.utils.data import Dataset

from nas.data import (
    Benchmark,
    BenchmarkError,
    Resident,
    ScaleCropFlip,
    Source,
    Split,
    SplitDataset,
    Streamed,
    Task,
    load_benchmark,
    open_split,
    sequential,
)
from nas.training import Problem, TrainConfig, train

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def scenes() -> Benchmark:
    return load_benchmark("scenes", size="tiny", seed=0)


def _streamed(bench: Benchmark, split: Split, workers: int, augment: Any = None) -> Streamed:
    return Streamed(
        SplitDataset(split), CPU, "test split", bench.input_shape, bench.tasks, workers, augment
    )


def _read(source: Source, plan: list[torch.Tensor], epoch: int | None) -> list[Any]:
    return [(x, y) for _, x, y in source.batches(plan, epoch=epoch, seed=5)]


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        torch.equal(xa, xb) and all(torch.equal(ya[k], yb[k]) for k in ya)
        for (xa, ya), (xb, yb) in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_equal_resident_ones_augmented_or_not(
    scenes: Benchmark, workers: int
) -> None:
    assert isinstance(scenes.train, Split)
    augment = ScaleCropFlip(scenes.tasks)
    plan = list(torch.randperm(len(scenes.train), generator=torch.Generator().manual_seed(1))
                [:40].split(16))  # fmt: skip
    resident = Resident(scenes.train, CPU, augment)
    streamed = _streamed(scenes, scenes.train, workers, augment)
    for epoch in (None, 3):
        assert _same(_read(resident, plan, epoch), _read(streamed, plan, epoch))
    plain = _read(resident, plan, None)
    assert not _same(plain, _read(resident, plan, 3))  # augmentation changed something
    assert _same(plain, [(scenes.train.x[i], {k: v[i] for k, v in scenes.train.targets.items()})
                         for i in plan])  # fmt: skip


def test_an_epochs_augmented_batches_depend_on_nothing_read_before(scenes: Benchmark) -> None:
    # A resumed trial, or a rerun one, starts reading at some epoch with fresh workers.
    assert isinstance(scenes.train, Split)
    augment = ScaleCropFlip(scenes.tasks)
    plan = list(torch.arange(24).split(8))
    first = _streamed(scenes, scenes.train, 1, augment)
    _read(first, plan, 1)
    after_epoch_1 = _read(first, plan, 2)
    fresh = _streamed(scenes, scenes.train, 0, augment)
    assert _same(after_epoch_1, _read(fresh, plan, 2))
    assert not _same(after_epoch_1, _read(fresh, plan, 1))


def test_training_on_a_streamed_split_is_bit_identical_to_resident(scenes: Benchmark) -> None:
    bench = dataclasses.replace(scenes, augment=ScaleCropFlip(scenes.tasks))
    problem = Problem.prepare(bench, None, CPU)
    config = TrainConfig(epochs=2, batch_size=32, seed=3)
    results, states = [], []
    for mode in ("resident", "streamed"):
        train_src = open_split(bench, "train", CPU, mode=mode)
        val_src = open_split(bench, "val", CPU, mode=mode)
        assert isinstance(train_src, Resident if mode == "resident" else Streamed)
        torch.manual_seed(0)
        net = problem.build(problem_layout(problem))
        results.append(train(net, train_src, val_src, bench.tasks, config).metrics)
        states.append(net.state_dict())
    assert results[0] == results[1]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def problem_layout(problem: Problem) -> Any:
    from nas.core import Layout

    return Layout.hard_sharing(problem.benchmark.task_names, problem.backbone.depth)


def test_flip_negates_the_normals_x_component_and_keeps_labels_integer() -> None:
    tasks = [Task("seg", "segmentation", 3), Task("depth", "depth"), Task("n", "normals")]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 8, 10, generator=g)
    seg = torch.randint(-1, 3, (8, 10), generator=g)
    depth = torch.rand(1, 8, 10, generator=g) * 5
    normals = torch.nn.functional.normalize(torch.randn(3, 8, 10, generator=g), dim=0)
    targets = {"seg": seg, "depth": depth, "n": normals}
    out_x, out = ScaleCropFlip(tasks, scales=(1.0,), flip=1.0)(x, targets, g)
    assert torch.equal(out_x, x.flip(-1))
    assert torch.equal(out["seg"], seg.flip(-1)) and out["seg"].dtype == torch.int64
    assert torch.equal(out["n"][0], -normals[0].flip(-1))
    assert torch.equal(out["n"][1:], normals[1:].flip(-1))
    # A zoom: labels stay among the original classes (nearest neighbour), depth shrinks by it.
    _, zoomed = ScaleCropFlip(tasks, scales=(2.0,), flip=0.0)(x, targets, g)
    assert zoomed["seg"].dtype == torch.int64 and zoomed["seg"].shape == (8, 10)
    assert set(zoomed["seg"].unique().tolist()) <= set(seg.unique().tolist())
    assert set((zoomed["depth"] * 2).flatten().tolist()) <= set(depth.flatten().tolist())
    with pytest.raises(BenchmarkError, match="scales must be at least 1"):
        ScaleCropFlip(tasks, scales=(0.5,))


def test_auto_reads_a_small_dataset_into_memory_and_streams_a_large_one(
    scenes: Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(scenes.train, Split)
    bench = dataclasses.replace(scenes, train=SplitDataset(scenes.train))
    resident = open_split(bench, "train", CPU)
    assert isinstance(resident, Resident) and torch.equal(resident.split.x, scenes.train.x)
    monkeypatch.setenv("MTLNAS_RESIDENT_GB", "0")
    assert isinstance(open_split(bench, "train", CPU), Streamed)
    assert isinstance(open_split(bench, "val", CPU), Resident)  # a Split stays resident
    monkeypatch.setenv("MTLNAS_DATA", "fast")
    with pytest.raises(BenchmarkError, match="MTLNAS_DATA='fast': choose auto"):
        open_split(bench, "train", CPU)


class _Items(Dataset[Any]):
    """A Dataset whose item ``bad`` (if any) is given by ``make_bad``."""

    def __init__(self, split: Split, bad: int = -1, make_bad: Any = None) -> None:
        self.split, self.bad, self.make_bad = split, bad, make_bad

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> Any:
        item = self.split.x[i], {k: v[i] for k, v in self.split.targets.items()}
        return self.make_bad(item) if i == self.bad else item


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (lambda it: it[0], "item 0 is a Tensor; an item must be"),
        (lambda it: (it[0][:1], it[1]), r"item 0: field 'x' has samples of shape \(1, 16, 16\)"),
        (lambda it: (it[0], {k: v for k, v in it[1].items() if k != "depth"}),
         "task 'depth': item 0 has no target tensor"),
        (lambda it: (it[0], {**it[1], "depth": -it[1]["depth"] - 1}), "negative depth"),
    ],
)  # fmt: skip
def test_a_bad_first_item_is_refused_on_load_in_one_line(
    scenes: Benchmark, bad: Any, message: str
) -> None:
    assert isinstance(scenes.val, Split)
    bench = dataclasses.replace(scenes, val=_Items(scenes.val, 0, bad))
    with pytest.raises(BenchmarkError, match=message) as err:
        bench.validate()
    assert "split 'val'" in str(err.value) and "\n" not in str(err.value)


def test_a_bad_item_met_while_streaming_names_its_samples(scenes: Benchmark) -> None:
    assert isinstance(scenes.val, Split)
    data = _Items(scenes.val, 21, lambda it: (it[0], {**it[1], "segmentation": it[1]["depth"]}))
    stream = Streamed(data, CPU, "split 'val'", scenes.input_shape, scenes.tasks, workers=0)
    with pytest.raises(BenchmarkError, match=r"split 'val', sample 21: task 'segmentation'"):
        list(stream.batches(sequential(len(stream), 16)))


def test_a_split_that_is_neither_is_named() -> None:
    bench = load_benchmark("digits", size="tiny")
    with pytest.raises(BenchmarkError, match="expected a Split or a map-style torch Dataset"):
        dataclasses.replace(bench, test=[1, 2, 3]).validate()  # type: ignore[arg-type]


def test_label_statistics_of_a_streamed_split_match_the_resident_ones(
    scenes: Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(scenes.train, Split) and isinstance(scenes.val, Split)
    streamed = dataclasses.replace(
        scenes, train=SplitDataset(scenes.train), val=SplitDataset(scenes.val)
    )
    a = Problem.prepare(scenes, None, CPU)
    monkeypatch.setenv("MTLNAS_DATA", "streamed")
    b = Problem.prepare(streamed, None, CPU)
    assert isinstance(a.train, Resident) and isinstance(b.train, Streamed)
    assert a.trivial == b.trivial
    assert a.label_shares() == {k: {**v, "test": 1.0} for k, v in b.label_shares().items()}


def test_a_streamed_split_without_any_label_for_a_task_is_named(scenes: Benchmark) -> None:
    assert isinstance(scenes.val, Split)
    hidden = {**scenes.val.targets, "count": torch.full_like(scenes.val.targets["count"], -1)}
    bench = dataclasses.replace(scenes, val=SplitDataset(Split(scenes.val.x, hidden)))
    problem = Problem.prepare(bench.validate(), None, CPU)  # item 0 alone may lack a label
    with pytest.raises(BenchmarkError, match="split 'val', task 'count': no sample has a label"):
        _ = problem.trivial
