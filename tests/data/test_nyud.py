"""NYUD-MT in the MTI-Net layout: a fake built file for file, read, refused, searched."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from nas.app.cli import main
from nas.data import BenchmarkError, load_benchmark
from tests import NO_PEERS


def write_nyud(root: Path, n_train: int = 6, n_val: int = 3, h: int = 8, w: int = 12) -> Path:
    """gt_sets/{train,val}.txt, images/*.jpg, segmentation/*.png and depth, normals, edge .npy."""
    rng = np.random.default_rng(0)
    for sub in ("gt_sets", "images", "segmentation", "depth", "normals", "edge"):
        (root / sub).mkdir(parents=True)
    ids = [f"{k:04d}" for k in range(n_train + n_val)]
    (root / "gt_sets" / "train.txt").write_text("\n".join(ids[:n_train]) + "\n")
    (root / "gt_sets" / "val.txt").write_text("\n".join(ids[n_train:]) + "\n")
    for i in ids:
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(root / "images" / f"{i}.jpg", quality=95)
        label = rng.integers(0, 41, (h, w), dtype=np.uint8)  # 0: unlabelled
        Image.fromarray(label).save(root / "segmentation" / f"{i}.png")
        np.save(root / "depth" / f"{i}.npy", (rng.random((h, w)) * 5).astype(np.float32))
        normals = rng.normal(size=(h, w, 3)).astype(np.float32)
        np.save(
            root / "normals" / f"{i}.npy", normals / np.linalg.norm(normals, axis=-1)[..., None]
        )
        np.save(root / "edge" / f"{i}.npy", (rng.random((h, w)) < 0.1).astype(np.float32))
    return root


def test_nyud_reads_the_mti_net_layout(tmp_path: Path) -> None:
    write_nyud(tmp_path)
    bench = load_benchmark("nyud", root=str(tmp_path), val_fraction=0.2)
    assert bench.task_names == ("segmentation", "depth", "normals", "edges")
    assert bench.task("segmentation").out == 40 and bench.input_shape == (3, 8, 12)
    assert (len(bench.train), len(bench.val), len(bench.test)) == (5, 1, 3)
    _, y = bench.test[0]
    label = np.asarray(Image.open(tmp_path / "segmentation" / "0006.png")).astype(np.int64)
    assert torch.equal(y["segmentation"], torch.from_numpy(label - 1))  # 0 unlabelled -> -1
    assert y["depth"].shape == (1, 8, 12) and y["edges"].shape == (1, 8, 12)
    half = load_benchmark("nyud", root=str(tmp_path), downsample=2)
    assert half.input_shape == (3, 4, 6) and half.train[0][1]["normals"].shape == (3, 4, 6)


def _spoil(root: Path, case: str) -> None:
    if case == "missing edge":
        (root / "edge" / "0002.npy").unlink()
    elif case == "wrong normals":
        np.save(root / "normals" / "0004.npy", np.zeros((3, 8, 12), dtype=np.float32))
    elif case == "negative depth":
        np.save(root / "depth" / "0001.npy", -np.ones((8, 12), dtype=np.float32))
    elif case == "label 41":
        Image.fromarray(np.full((8, 12), 41, dtype=np.uint8)).save(
            root / "segmentation" / "0000.png"
        )
    elif case == "no list":
        (root / "gt_sets" / "val.txt").unlink()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing edge", r"edge/0002\.npy is missing \(train\.txt lists 0002"),
        ("wrong normals", r"normals/0004\.npy has shape \(3, 8, 12\), expected \(8, 12, 3\)"),
        ("negative depth", r"depth/0001\.npy has negative depth"),
        ("label 41", r"segmentation/0000\.png must be \(8, 12\) with classes 0\.\.40"),
        ("no list", r"gt_sets/val\.txt is missing"),
    ],
)
def test_bad_nyud_data_is_one_line_naming_the_file(tmp_path: Path, case: str, message: str) -> None:
    _spoil(write_nyud(tmp_path), case)
    with pytest.raises(BenchmarkError) as err:
        load_benchmark("nyud", root=str(tmp_path))
    text = str(err.value)
    assert "\n" not in text and re.search(message, text), text


@pytest.mark.parametrize(
    ("options", "message"),
    [({"downsample": 0}, "downsample is a whole number"), ({"downsample": 3}, "does not divide"),
     ({"val_fraction": 1}, r"share in \[0, 1\)")],
)  # fmt: skip
def test_nyud_options_are_checked(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    write_nyud(tmp_path)
    with pytest.raises(BenchmarkError, match=message):
        load_benchmark("nyud", root=str(tmp_path), **options)


def test_the_nyud_fake_runs_a_tiny_streamed_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_nyud(tmp_path / "data", n_train=10, n_val=3, h=16, w=16)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MTLNAS_DATA", "streamed")
    args = ["search", "--benchmark", "nyud", "--data", str(tmp_path / "data"), "--epochs", "1",
            "--n-trials", "3", "--benchmark-option", "augment=true", "--device", "cpu",
            "--quiet", "--confirm-top", "1", "--confirm-seeds", "2",
            "--confirm-latency-repeats", "0", *NO_PEERS]  # fmt: skip
    assert main(args) == 0
    assert main(["export", "nyud-branched", "-o", str(tmp_path / "m.onnx")]) == 0
