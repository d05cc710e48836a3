"""Export of stored trials to ONNX, checked with onnxruntime; through the CLI as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import optuna
import pytest
import torch
from optuna.trial import TrialState

from export import ExportError, export_trial, load_trial_network
from nas.app.cli import main
from nas.core import Layout
from nas.runtime import OnnxModel
from nas.study import NoTrial, artifact_store, best_trial, trial_by_number
from tests import QUICK

README = Path(__file__).resolve().parents[2] / "docs" / "export.md"
TINY = [
    "--size",
    "tiny",
    *QUICK,
    "--n-trials",
    "4",
    "--epochs",
    "1",
]


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    url = f"sqlite:///{root / 'studies.db'}"
    for benchmark, space in (("digits", "branched"), ("scenes", "adashare")):
        args = [
            "search",
            "--benchmark",
            benchmark,
            "--space",
            space,
            "--name",
            space,
            "--storage",
            url,
            *TINY,
            # TPE's seeded draws here leave some trials without kept weights (not the best
            # when they finished), which test_clear_errors exports
            "--strategy",
            "tpe",
        ]
        assert main(args) == 0
    return root


def url(root: Path) -> str:
    return f"sqlite:///{root / 'studies.db'}"


def study(root: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url(root))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["branched", "adashare"])
def test_export_parity_metadata_and_initializers(
    studies: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"{name}.onnx"
    assert main(["export", name, "-o", str(out), "--storage", url(studies)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"parity batch  64: max abs difference \d\.\d+e-\d+", printed)
    s = study(studies, name)
    trial = best_trial(s)
    net, tasks = load_trial_network(s, trial, artifact_store(url(studies)))
    model = OnnxModel(out, "cpu")
    assert model.tasks == [t.name for t in tasks]
    for batch in (1, 7, 64):
        x = np.random.default_rng(batch).standard_normal((batch, *model.input_shape))
        got = model(x.astype(np.float32))
        with torch.no_grad():
            want = net(torch.from_numpy(x).float())
        for task in model.tasks:
            assert got[task].shape == tuple(want[task].shape)
            assert np.abs(got[task] - want[task].numpy()).max() <= 1e-4
    # Metadata gives back the trial's Layout, its tasks and where it came from.
    layout = Layout.from_json(json.dumps(model.metadata["layout"]))
    assert layout == Layout.from_dict(trial.user_attrs["layout"])
    assert model.metadata["study"] == name and model.metadata["trial"] == trial.number
    assert [t["name"] for t in model.metadata["tasks"]] == model.tasks
    assert all(t["meaning"] for t in model.metadata["tasks"])
    # The graph holds weights of used blocks and heads only, and every used block has some.
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    owners = {".".join(i.name.split(".")[:2]) for i in proto.graph.initializer if "." in i.name}
    used = {f"blocks.b{d}_{k}" for d, k in layout.used_blocks()}
    heads = {f"heads.{i}" for i in range(len(tasks))}
    assert owners <= used | heads
    assert used <= owners
    state = sum(v.numel() for v in net.state_dict().values())
    assert sum(int(np.prod(i.dims)) for i in proto.graph.initializer) <= state


@pytest.mark.slow
def test_plain_onnxruntime_script_from_readme(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    assert main(["export", "adashare", "-o", str(out), "--storage", url(studies)]) == 0
    text = README.read_text()
    script = re.search(r"<!-- plain-onnxruntime -->\s*```python\n(.*?)```", text, re.S)
    assert script, "docs/export.md lost its plain onnxruntime script"
    check = (
        script.group(1)
        + "\nimport sys\nassert not [m for m in sys.modules if m in ('nas', 'export', 'torch')]\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    # No provider load errors (onnxruntime-gpu's TensorRT and CUDA on a machine without them).
    assert "EP Error" not in run.stderr and "[E:onnxruntime" not in run.stderr, run.stderr
    names = [
        t.name
        for t in load_trial_network(
            study(studies, "adashare"),
            best_trial(study(studies, "adashare")),
            artifact_store(url(studies)),
        )[1]
    ]
    for name in names:
        assert f"{name}: (" in run.stdout


def test_fp16_export(studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "half.onnx"
    assert main(["export", "branched", "-o", str(out), "--fp16", "--storage", url(studies)]) == 0
    assert "relative difference" in capsys.readouterr().out
    assert OnnxModel(out, "cpu")(np.zeros((2, 1, 16, 16), np.float32))["left"].dtype == np.float32


def test_clear_errors(studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--storage", url(studies)]

    def err(*args: str) -> str:
        assert main(list(args)) == 2
        text = capsys.readouterr().err.strip()
        assert text.count("\n") == 0, text
        return text

    assert "has no trial 99 (trials 0..3)" in err("export", "branched", "--trial", "99", *base)
    no_weights = [
        t.number for t in study(studies, "branched").trials if "weights" not in t.user_attrs
    ]
    assert "has no stored weights" in err(
        "export", "branched", "--trial", str(no_weights[0]), *base
    )
    assert "folder" in err("export", "branched", "-o", str(tmp_path / "no" / "m.onnx"), *base)
    assert "is a folder" in err("export", "branched", "-o", str(tmp_path), *base)
    assert "no study named 'nope'" in err("export", "nope", *base)
    assert not list(tmp_path.glob("**/*.onnx"))
    out = tmp_path / "m.onnx"
    assert main(["export", "branched", "-o", str(out), *base]) == 0
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 1, 8, 8), np.float32))
    assert "expected (batch, 1, 16, 16)" in err("predict", str(out), str(bad))
    (tmp_path / "junk.npy").write_text("nope")
    assert "cannot read" in err("predict", str(out), str(tmp_path / "junk.npy"))
    assert "no model file" in err("predict", str(tmp_path / "none.onnx"), str(bad))


def test_no_finished_trial(tmp_path: Path) -> None:
    storage = url(tmp_path)
    s = optuna.create_study(study_name="empty", storage=storage)
    with pytest.raises(NoTrial, match="has no complete trial yet; run: mtlnas resume empty"):
        best_trial(s)
    t = s.ask()
    s.tell(t, state=TrialState.PRUNED)
    with pytest.raises(ExportError, match="no stored weights"):
        export_trial(s, trial_by_number(s, 0), artifact_store(storage), tmp_path / "m.onnx")


@pytest.mark.slow
def test_predict_and_bench_commands(
    studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.onnx"
    assert main(["export", "adashare", "-o", str(out), "--storage", url(studies)]) == 0
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).random((5, 3, 16, 16), dtype=np.float32))
    capsys.readouterr()
    assert main(["predict", str(out), str(x), "-o", str(tmp_path / "y.npz")]) == 0
    assert "segmentation (segmentation): class map (5, 16, 16), classes present" in (
        capsys.readouterr().out
    )
    assert set(np.load(tmp_path / "y.npz")) == {
        "segmentation",
        "depth",
        "normals",
        "count",
        "edges",
    }
    assert main(["bench", str(out), "--repeats", "5", "--storage", url(studies)]) == 0
    printed = capsys.readouterr().out
    assert "batch  1: onnxruntime p50" in printed and "onnxruntime/PyTorch p50" in printed
