from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from nas import Layout, build
from nas.data import Benchmark, BenchmarkError, Split, Task, TaskMeter, delta_mtl, load_benchmark
from nas.data._benchmark import benchmark_names

README = Path(__file__).resolve().parents[2] / "docs" / "guide.md"


def test_builtins_are_registered() -> None:
    assert {"digits", "scenes", "nyuv2"} <= set(benchmark_names())


@pytest.mark.parametrize("name", ["digits", "scenes"])
def test_builtin_shapes_dtypes_determinism(name: str) -> None:
    a = load_benchmark(name, size="tiny", seed=3)
    b = load_benchmark(name, size="tiny", seed=3)
    c = load_benchmark(name, size="tiny", seed=4)
    for split in ("train", "val", "test"):
        sa, sb = getattr(a, split), getattr(b, split)
        assert sa.x.dtype == torch.float32 and tuple(sa.x.shape[1:]) == a.input_shape
        torch.testing.assert_close(sa.x, sb.x, rtol=0, atol=0)
        for task in a.tasks:
            torch.testing.assert_close(sa.targets[task.name], sb.targets[task.name], rtol=0, atol=0)
    assert not torch.equal(a.train.x, c.train.x)


def test_digits_splits_share_no_source_scan() -> None:
    bench = load_benchmark("digits", size="tiny")
    ids = {s: set(getattr(bench, s).sources.flatten().tolist()) for s in ("train", "val", "test")}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    t = bench.train.targets
    assert torch.equal(t["sum"], t["left"] + t["right"])
    assert bench.task_names == ("left", "right", "sum")


def test_scenes_splits_are_disjoint_and_tasks_consistent() -> None:
    bench = load_benchmark("scenes", size="tiny")
    seen = {bench.train.x[i].numpy().tobytes() for i in range(len(bench.train))}
    for split in (bench.val, bench.test):
        assert not any(split.x[i].numpy().tobytes() in seen for i in range(len(split)))
    t = bench.train.targets
    sky = t["segmentation"] == 0
    assert torch.all(t["depth"][:, 0][sky] == 0) and torch.all(t["depth"][:, 0][~sky] > 0)
    norms = t["normals"].norm(dim=1)
    assert torch.allclose(norms[~sky], torch.ones(()), atol=1e-4)
    assert set(t["count"].unique().tolist()) <= set(range(5))
    # Object pixels exist wherever at least one object is visible.
    assert torch.all((t["segmentation"] >= 2).flatten(1).any(1))


def write_nyuv2(root: Path, n_train: int = 4, n_val: int = 2, h: int = 8, w: int = 12) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        for sub in ("image", "label", "depth", "normal"):
            (root / split / sub).mkdir(parents=True)
        for i in range(n):
            np.save(root / split / "image" / f"{i}.npy", rng.random((h, w, 3), dtype=np.float32))
            label = rng.integers(-1, 13, (h, w)).astype(np.float32)
            np.save(root / split / "label" / f"{i}.npy", label)
            np.save(root / split / "depth" / f"{i}.npy", rng.random((h, w, 1), dtype=np.float32))
            normal = rng.normal(size=(h, w, 3)).astype(np.float32)
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)  # unit vectors
            np.save(root / split / "normal" / f"{i}.npy", normal)


def test_nyuv2_fixture(tmp_path: Path) -> None:
    write_nyuv2(tmp_path)
    bench = load_benchmark("nyuv2", root=str(tmp_path))
    assert bench.input_shape == (3, 8, 12)
    assert (len(bench.train), len(bench.val), len(bench.test)) == (3, 1, 2)
    x, targets = bench.train[0]  # a Dataset: each sample read from its files when asked for
    assert x.shape == (3, 8, 12) and x.dtype == torch.float32
    assert targets["segmentation"].dtype == torch.int64
    assert targets["depth"].shape == (1, 8, 12)
    assert bench.test[1][1]["normals"].shape == (3, 8, 12)


def test_nyuv2_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="needs the path of its folder"):
        load_benchmark("nyuv2")
    with pytest.raises(BenchmarkError, match="does not exist"):
        load_benchmark("nyuv2", root=str(tmp_path / "nope"))
    write_nyuv2(tmp_path)
    (tmp_path / "val" / "depth" / "0.npy").write_bytes(b"not numpy")
    with pytest.raises(BenchmarkError, match=r"cannot read .*val/depth/0.npy"):
        load_benchmark("nyuv2", root=str(tmp_path))
    for f in (tmp_path / "train" / "normal").iterdir():
        f.unlink()
    (tmp_path / "train" / "normal").rmdir()
    with pytest.raises(BenchmarkError, match="missing sub-folder 'normal'"):
        load_benchmark("nyuv2", root=str(tmp_path))


def user_module_source() -> str:
    text = README.read_text()
    match = re.search(r"<!-- user-benchmark -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/guide.md lost its user benchmark example"
    return match.group(1)


def test_user_benchmark_from_readme_runs_through_builder_and_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_benchmark.py").write_text(user_module_source())
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_benchmark", None)
    bench = load_benchmark("my_benchmark:make", size="tiny", seed=0)
    backbone = bench.backbone_spec().create(bench.input_shape)
    heads = {t.name: t.head for t in bench.tasks}
    results = {}
    for layout in (
        Layout.independent(bench.task_names, backbone.depth),
        Layout.hard_sharing(bench.task_names, backbone.depth),
    ):
        net = build(layout, backbone, heads, bench.input_shape).eval()
        meters = {t.name: TaskMeter(t) for t in bench.tasks}
        with torch.no_grad():
            out = net(bench.val.x)
        for t in bench.tasks:
            meters[t.name].update(out[t.name], bench.val.targets[t.name])
            assert torch.isfinite(t.compute_loss(out[t.name], bench.val.targets[t.name]))
        results[layout] = {t.name: meters[t.name].compute()[t.primary] for t in bench.tasks}
    ind, hard = results.values()
    directions = {t.name: t.higher_is_better for t in bench.tasks}
    assert delta_mtl(ind, ind, directions) == 0.0
    assert np.isfinite(delta_mtl(hard, ind, directions))


def test_unknown_and_broken_user_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BenchmarkError, match="unknown benchmark 'mnist'; choose one of"):
        load_benchmark("mnist")
    with pytest.raises(BenchmarkError, match="cannot import 'no_such_module'"):
        load_benchmark("no_such_module:make")
    (tmp_path / "half_bench.py").write_text("def make():\n    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BenchmarkError, match="has no function 'build'"):
        load_benchmark("half_bench:build")
    with pytest.raises(BenchmarkError, match="returned int, not a Benchmark"):
        load_benchmark("half_bench:make")
    with pytest.raises(BenchmarkError, match="takes no option 'size'"):
        load_benchmark("half_bench:make", size="tiny")


def small() -> Benchmark:
    x = torch.randn(4, 3, 4, 4)
    targets = {"c": torch.tensor([0, 1, 0, 1]), "d": torch.rand(4, 1, 4, 4)}
    split = Split(x, targets)
    return Benchmark(
        "small",
        (3, 4, 4),
        (Task("c", "classification", 2), Task("d", "depth")),
        split,
        split,
        split,
    )


def with_target(bench: Benchmark, task: str, value: torch.Tensor, split: str = "val") -> Benchmark:
    old = getattr(bench, split)
    return replace(bench, **{split: Split(old.x, {**old.targets, task: value})})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda b: replace(b, val=Split(b.val.x, {"c": b.val.targets["c"]})),
            "split 'val', task 'd': no labels",
        ),
        (
            lambda b: with_target(b, "d", torch.full((4, 1, 4, 4), float("nan"))),
            "split 'val', task 'd': field 'targets' holds NaN",
        ),
        (
            lambda b: with_target(b, "c", torch.tensor([0, 1, 2, 0])),
            r"task 'c': field 'targets' has class indices outside \[0, 2\)",
        ),
        (
            lambda b: with_target(b, "c", torch.tensor([0.0, 1.0, 0.0, 1.0])),
            "task 'c': field 'targets' must be int64",
        ),
        (
            lambda b: with_target(b, "d", torch.rand(4, 4, 4)),
            r"task 'd': field 'targets' has shape \(4, 4, 4\), expected \(4, 1, 4, 4\)",
        ),
        (
            lambda b: with_target(b, "d", -torch.rand(4, 1, 4, 4), "train"),
            "split 'train', task 'd': field 'targets' has negative depth",
        ),
        (
            lambda b: replace(
                b, test=Split(b.test.x[:0], {k: v[:0] for k, v in b.test.targets.items()})
            ),
            "split 'test': the split is empty",
        ),
        (
            lambda b: replace(b, tasks=(*b.tasks, Task("c", "classification", 2))),
            "task 'c': duplicate task name",
        ),
        (
            lambda b: replace(b, train=Split(b.train.x[:, :2], b.train.targets)),
            r"split 'train': field 'x' has samples of shape \(2, 4, 4\)",
        ),
        (lambda b: replace(b, input_shape=(48,)), "dense tasks need image inputs"),
    ],
)
def test_rejections_name_the_task_and_field(mutate, message: str) -> None:
    small().validate()
    with pytest.raises(BenchmarkError, match=message):
        mutate(small()).validate()


def test_tasks_keeps_a_subset_of_the_benchmark_in_its_own_order() -> None:
    import torch

    from nas.data import BenchmarkError
    from nas.explore import ConfigError, SearchConfig
    from nas.study import prepare

    config = SearchConfig(benchmark="digits", size="tiny", tasks=["sum", "left"])
    problem, space = prepare(config, torch.device("cpu"))
    assert [t.name for t in problem.tasks] == ["left", "sum"] == list(space.tasks)
    assert set(problem.benchmark.test.targets) == {"left", "sum"}
    with pytest.raises(BenchmarkError, match=r"--tasks names tasks \['middle'\]"):
        prepare(config.replace(tasks=["middle"]), torch.device("cpu"))
    with pytest.raises(ConfigError, match="distinct tasks"):
        SearchConfig(tasks=["sum", "sum"])


@pytest.mark.parametrize("field", ["x", "target"])
def test_float64_data_is_refused_when_the_benchmark_is_loaded(field: str) -> None:
    # float64 once passed validation, then every trial failed on "double != float".
    def split(n: int) -> Split:
        x = torch.randn(n, 4, dtype=torch.float64 if field == "x" else torch.float32)
        y = x[:, :1].double() if field == "target" else x[:, :1].float()
        return Split(x, {"r": y})

    bench = Benchmark("f64", (4,), (Task("r", "regression", 1),), split(8), split(4), split(4))
    what = "field 'x' is torch.float64" if field == "x" else "field 'targets' is torch.float64"
    with pytest.raises(BenchmarkError, match=re.escape(what) + ".*float32"):
        bench.validate()


def _rewrite(root: Path, sub: str, i: int, array: np.ndarray) -> Path:
    path = root / "train" / sub / f"{i}.npy"
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing image", r"train/image/2\.npy is missing \(label/2\.npy exists\)"),
        ("missing depth", r"train/depth/1\.npy is missing \(image/1\.npy exists\)"),
        ("0-255 image", r"train/image/0\.npy has values in \[[\d.]+, 2\d\d[\d.]*\].*divide by 255"),
        ("channels first", r"train/image/0\.npy has shape \(3, 8, 12\), channels first"),
        ("wrong size", r"train/image/3\.npy has shape \(9, 12, 3\), expected \(8, 12, 3\)"),
        ("normals in [0, 1]", r"every normal component in .*train/normal is >= 0.*2 \* n - 1"),
        ("label out of range", r"train/label/1\.npy holds labels other than the classes 0\.\.12"),
        ("negative depth", r"train/depth/0\.npy has negative depth"),
    ],
)
def test_nyuv2_bad_data_is_one_line_naming_the_file(
    tmp_path: Path, case: str, message: str
) -> None:
    write_nyuv2(tmp_path)
    rng = np.random.default_rng(1)
    if case == "missing image":
        (tmp_path / "train" / "image" / "2.npy").unlink()  # once dropped the sample silently
    elif case == "missing depth":
        (tmp_path / "train" / "depth" / "1.npy").unlink()
    elif case == "0-255 image":
        _rewrite(tmp_path, "image", 0, (255 * rng.random((8, 12, 3))).astype(np.float32))
    elif case == "channels first":
        _rewrite(tmp_path, "image", 0, rng.random((3, 8, 12), dtype=np.float32))
    elif case == "wrong size":
        _rewrite(tmp_path, "image", 3, rng.random((9, 12, 3), dtype=np.float32))
    elif case == "normals in [0, 1]":
        for i in range(4):
            n = np.load(tmp_path / "train" / "normal" / f"{i}.npy")
            _rewrite(tmp_path, "normal", i, (n + 1) / 2)
    elif case == "label out of range":
        _rewrite(tmp_path, "label", 1, np.full((8, 12), 13, dtype=np.float32))
    elif case == "negative depth":
        _rewrite(tmp_path, "depth", 0, -np.ones((8, 12, 1), dtype=np.float32))
    with pytest.raises(BenchmarkError) as err:
        load_benchmark("nyuv2", root=str(tmp_path))
    text = str(err.value)
    assert "\n" not in text and re.search(message, text), text


def test_nyuv2_validation_share_is_an_option(tmp_path: Path) -> None:
    write_nyuv2(tmp_path, n_train=8)
    bench = load_benchmark("nyuv2", root=str(tmp_path), val_fraction=0.5)
    assert (len(bench.train), len(bench.val), len(bench.test)) == (4, 4, 2)
    with pytest.raises(BenchmarkError, match=r"val_fraction must be a share in \[0, 1\)"):
        load_benchmark("nyuv2", root=str(tmp_path), val_fraction=1)
    assert bench.protocol_warning() is None
    mtan = load_benchmark("nyuv2", root=str(tmp_path), val_fraction=0)  # MTAN's protocol
    assert (len(mtan.train), len(mtan.val), len(mtan.test)) == (8, 2, 2)
    assert mtan.val is mtan.test and "validates on its test split" in str(mtan.protocol_warning())
