"""The GPU benchmark's smoke run on the CPU: every path it measures runs and prints its ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "gpu.py"


@pytest.mark.slow
def test_the_gpu_benchmark_prints_every_ratio_in_a_quick_cpu_run() -> None:
    run = subprocess.run([sys.executable, str(BENCH), "--quick", "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for label in ("trainer / plain loop", "trainings per hour by trials per device: 1:",
                  "2: ", "process peak RSS per trial", "streamed/resident",
                  "ours/hand-written", "reference/ours", "onnxruntime CPU / torch cpu",
                  "batch 64: "):  # fmt: skip
        assert label in out, f"{label!r} missing from:\n{out}"
    assert out.count("trainer / plain loop") == 2  # the main job's size and NYUv2-like
