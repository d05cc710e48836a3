"""The .npy folder layouts (NYUv2, Cityscapes): fakes built file for file, streamed, searched."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from nas.app.cli import main
from nas.data import BenchmarkError, load_benchmark, open_split, sequential
from nas.data.datasets import _npy_folders as npy_folders
from tests import NO_PEERS
from tests.data.test_benchmark import write_nyuv2


def write_cityscapes(
    root: Path, n_train: int = 6, n_val: int = 2, h: int = 8, w: int = 16, libmtl: bool = False
) -> None:
    """MTAN's layout (``label_7``, ``label_19``), or LibMTL's copy (one ``label`` folder)."""
    rng = np.random.default_rng(0)
    labels = {"label": 7} if libmtl else {"label_7": 7, "label_19": 19}
    for split, n in (("train", n_train), ("val", n_val)):
        for sub in ("image", "depth", *labels):
            (root / split / sub).mkdir(parents=True)
        for i in range(n):
            np.save(root / split / "image" / f"{i}.npy", rng.random((h, w, 3), dtype=np.float32))
            for sub, classes in labels.items():
                label = rng.integers(-1, classes, (h, w)).astype(np.float32)
                np.save(root / split / sub / f"{i}.npy", label)
            depth = rng.random((h, w, 1), dtype=np.float32) * (rng.random((h, w, 1)) > 0.2)
            np.save(root / split / "depth" / f"{i}.npy", depth)


@pytest.mark.parametrize(("classes", "libmtl"), [(7, False), (19, False), (7, True)])
def test_cityscapes_reads_mtans_layout_and_libmtls_copy(
    tmp_path: Path, classes: int, libmtl: bool
) -> None:
    write_cityscapes(tmp_path, libmtl=libmtl)
    bench = load_benchmark("cityscapes", root=str(tmp_path), classes=classes)
    assert bench.input_shape == (3, 8, 16) and bench.task_names == ("segmentation", "depth")
    assert bench.task("segmentation").out == classes
    assert (len(bench.train), len(bench.val), len(bench.test)) == (5, 1, 2)
    _, y = bench.test[0]
    assert y["segmentation"].dtype == torch.int64 and int(y["segmentation"].max()) < classes
    assert y["depth"].shape == (1, 8, 16)


def test_cityscapes_options_are_checked(tmp_path: Path) -> None:
    write_cityscapes(tmp_path, libmtl=True)
    with pytest.raises(BenchmarkError, match="classes is 7 or 19, got 13"):
        load_benchmark("cityscapes", root=str(tmp_path), classes=13)
    with pytest.raises(BenchmarkError, match="missing sub-folder 'label_19'"):
        load_benchmark("cityscapes", root=str(tmp_path), classes=19)


def test_a_bad_file_met_while_streaming_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_nyuv2(tmp_path, n_train=6)
    np.save(tmp_path / "train" / "label" / "5.npy", np.full((8, 12), 40, dtype=np.float32))
    monkeypatch.setattr(npy_folders, "CHECKED_ON_LOAD", 0)  # as if it were file 10,000
    bench = load_benchmark("nyuv2", root=str(tmp_path), val_fraction=0.2)
    sources = [open_split(bench, s, torch.device("cpu"), mode="streamed") for s in ("train", "val")]
    with pytest.raises(BenchmarkError) as err:
        for source in sources:
            list(source.batches(sequential(len(source), 4)))
    text = str(err.value)
    assert "\n" not in text, text
    assert re.search(r"split '(train|val)', sample \d: .*train/label/5\.npy holds labels", text)


def test_augmenting_nyuv2_is_an_option(tmp_path: Path) -> None:
    write_nyuv2(tmp_path, n_train=6)
    assert load_benchmark("nyuv2", root=str(tmp_path)).augment is None
    bench = load_benchmark("nyuv2", root=str(tmp_path), augment=True)
    assert bench.augment is not None
    with pytest.raises(BenchmarkError, match="augment is true or false"):
        load_benchmark("nyuv2", root=str(tmp_path), augment="yes")


@pytest.mark.parametrize("name", ["nyuv2", "cityscapes"])
def test_each_folder_fake_runs_a_tiny_streamed_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    data = tmp_path / "data"
    if name == "nyuv2":
        write_nyuv2(data, n_train=8, n_val=3, h=16, w=16)
    else:
        write_cityscapes(data, n_train=8, n_val=3, h=16, w=16)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MTLNAS_DATA", "streamed")
    args = ["search", "--benchmark", name, "--data", str(data), "--epochs", "1", "--n-trials", "3"]
    aug = ["--benchmark-option", "augment=true"]
    if name == "cityscapes":  # MTAN's protocol: validating on val/, said in the search's output
        aug += ["--benchmark-option", "val_fraction=0"]
    assert main([*args, *aug, "--device", "cpu", "--quiet", "--confirm-top", "1",
                 "--confirm-seeds", "2", "--confirm-latency-repeats", "0",
                 *NO_PEERS]) == 0  # fmt: skip
    warned = "validates on its test split" in capsys.readouterr().err
    assert warned == (name == "cityscapes")
    assert main(["show", f"{name}-branched"]) == 0  # show repeats it beside the table
    assert ("validates on its test split" in capsys.readouterr().out) == (name == "cityscapes")
    assert main(["export", f"{name}-branched", "-o", str(tmp_path / "m.onnx")]) == 0


def test_a_bad_file_stops_a_search_before_its_study_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_nyuv2(tmp_path / "data", n_train=6)
    np.save(tmp_path / "data" / "train" / "depth" / "4.npy", -np.ones((8, 12, 1), np.float32))
    monkeypatch.setattr(npy_folders, "CHECKED_ON_LOAD", 0)  # as if it were file 10,000
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MTLNAS_DATA", "streamed")
    args = ["search", "--benchmark", "nyuv2", "--data", str(tmp_path / "data"), "--n-trials", "2",
            "--epochs", "1", "--device", "cpu", "--quiet", "--no-confirm"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(r"train/depth/4\.npy has negative depth", err), err
    assert optuna.get_all_study_names(storage="sqlite:///studies.db") == []
