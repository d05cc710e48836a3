"""The guide's on-disk Dataset example: search, resume and export, streamed from the file."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnx
import pytest

import nas
from nas.app.cli import main
from tests import QUICK

GUIDE = Path(__file__).parents[2] / "docs" / "guide.md"


def _example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    match = re.search(r"<!-- streamed-benchmark -->\s*```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert match, "docs/guide.md lost its streamed benchmark example"
    (tmp_path / "disk_benchmark.py").write_text(match.group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("disk_benchmark", None)
    rng = np.random.default_rng(0)
    smooth = rng.integers(0, 256, (160, 4, 4, 3)).repeat(4, axis=1).repeat(4, axis=2)
    np.save(tmp_path / "images.npy", smooth.astype(np.uint8))
    import disk_benchmark

    return disk_benchmark


def _count_reads(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    original = module.OnDisk.__getitem__

    def counted(self: Any, i: int) -> Any:
        reads.append(i)
        return original(self, i)

    monkeypatch.setattr(module.OnDisk, "__getitem__", counted)
    return reads


def test_the_on_disk_example_searches_resumes_and_exports_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _example(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MTLNAS_DATA", "streamed")  # 160 small images would be read into memory
    monkeypatch.setenv("MTLNAS_WORKERS", "0")  # reads counted in this process
    reads = _count_reads(module, monkeypatch)
    args = ["--benchmark", "disk_benchmark:make", "--data", str(tmp_path), "--epochs", "1"]
    assert main(["search", "--name", "disk", *args, "--n-trials", "3", *QUICK]) == 0
    # Two epochs' worth at least: every trial read its training split from the file.
    assert len(reads) >= 3 * 112
    searched = len(reads)
    assert main(["resume", "disk", "--n-trials", "4", *QUICK]) == 0
    assert len(reads) >= searched + 112  # the fourth trial streamed its training split too
    assert main(["export", "disk", "-o", str(tmp_path / "disk.onnx")]) == 0
    onnx.checker.check_model(onnx.load(str(tmp_path / "disk.onnx")))


def test_the_on_disk_example_runs_from_python_with_a_benchmark_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _example(tmp_path, monkeypatch)
    monkeypatch.setenv("MTLNAS_RESIDENT_GB", "0")  # auto: too big for memory, so streamed
    bench = module.make(str(tmp_path))
    db = f"sqlite:///{tmp_path / 'd.db'}"
    common = {"storage": db, "device": "cpu", "progress": False, "confirm": False}
    first = nas.search("py", benchmark=bench, n_trials=2, epochs=1, **common)
    assert first.finished == 2 and first.best is not None
    again = nas.resume("py", benchmark=bench, n_trials=3, **common)
    assert again.finished == 3
    report = nas.export("py", tmp_path / "py.onnx", storage=db)
    assert report.path.exists()
