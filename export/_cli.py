"""The export commands of ``mtlnas``: export, predict, bench."""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EXPORT_HANDLERS", "add_export_commands"]


def add_export_commands(sub: Any, storage_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the export subcommands on the ``mtlnas`` parser."""
    p = sub.add_parser(
        "export",
        help="export the best (or a chosen) trial to ONNX",
        description="Export a trial's stored weights to ONNX, check the file with "
        "onnx.checker and compare onnxruntime with PyTorch before writing it.",
    )
    p.add_argument("name", help="study name")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--trial",
        type=int,
        default=None,
        help="search trial number (default: the confirmed winner, or before confirm the best "
        "on validation; for a Pareto front, its best Δ_MTL)",
    )
    which.add_argument(
        "--front-point",
        type=int,
        default=None,
        metavar="K",
        help="point #K of a confirmed front (as mtlnas show numbers them): its first-seed run",
    )
    p.add_argument("-o", "--output", default="model.onnx", help="output file (default model.onnx)")
    p.add_argument("--fp16", action="store_true", help="float16 weights, float32 inputs/outputs")
    storage_args(p)

    p = sub.add_parser("predict", help="run an exported model on a .npy batch")
    p.add_argument("file", help="exported .onnx file")
    p.add_argument("input", help=".npy array of shape (batch, *input_shape) or one sample")
    p.add_argument("-o", "--output", default=None, help="write outputs to this .npz file")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")

    p = sub.add_parser(
        "bench",
        help="latency of onnxruntime against PyTorch eager",
        description="Latency p50/p90 at batch 1 and 64 of the exported file under "
        "onnxruntime and of the same trial's weights in PyTorch eager.",
    )
    p.add_argument("file", help="exported .onnx file")
    p.add_argument("--repeats", type=int, default=50, help="timed runs per case (default 50)")
    storage_args(p)


def export(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas export NAME``."""
    from export._onnx import export_trial
    from nas.study import answer, artifact_store, load_study, open_storage, study_config
    from nas.study._store.record import refuse_stage

    refuse_stage(args.name, "export")
    storage = open_storage(args.storage)
    study = load_study(storage, args.name)
    study_config(study)  # names a half-created study (or one not made by mtl-nas) first
    study, trial = answer(storage, study, args.trial, args.front_point)
    report = export_trial(
        study,
        trial,
        artifact_store(args.storage, args.artifacts, create=False),
        Path(args.output),
        fp16=args.fp16,
    )
    kind = "relative" if args.fp16 else "max abs"
    for batch, diff in report.max_abs_diff.items():
        print(
            f"parity batch {batch:3}: {kind} difference {diff:.2e} (tolerance {report.tolerance:g})"
        )
    what = f"trial {report.trial}"
    if study.study_name != args.name:
        k = args.front_point
        point = "confirmed winner" if k is None else f"front point #{k}"
        if args.trial is not None:  # its own weights were not kept; the confirm stage's were
            point = f"search trial {args.trial}'s layout retrained by the confirm stage"
        what = f"{point}, {study.study_name} run {report.trial}"
    print(f"wrote {report.path} ({what}, checked with onnxruntime {report.provider})")
    return 0


def predict(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas predict FILE INPUT.npy``."""
    from nas.runtime._session import ModelError, OnnxModel

    model = OnnxModel(args.file, args.device)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read {args.input} as a .npy array: {err}") from None
    batch = x.shape[0] if x.ndim > len(model.input_shape) else 1
    if batch == 0:
        raise ModelError(
            f"{args.input} holds no samples (shape {tuple(x.shape)}): give at least one"
        )
    from export._reading import describe_outputs

    outputs = model(x)
    tasks = model.metadata.get("tasks")
    for line in describe_outputs(outputs, tasks if isinstance(tasks, list) else None):
        print(line)
    if args.output:
        # numpy adds ".npz" to a name without it: say the name it really wrote.
        out = args.output if args.output.endswith(".npz") else args.output + ".npz"
        np.savez(out, **outputs)  # type: ignore[arg-type]
        print(f"wrote {out}")
    return 0


def _timings(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas bench FILE``: onnxruntime vs PyTorch eager, same weights, side by side."""
    import torch

    from export._onnx import load_trial_network
    from nas.runtime._session import ModelError, OnnxModel
    from nas.study import artifact_store, load_study, open_storage

    model = OnnxModel(args.file, "cpu")
    meta = model.metadata
    # Where the weights come from: "weights" since 0.2 (a confirm run or a search trial),
    # "study" and "trial" before.
    source = meta.get("weights") or {"study": meta.get("study"), "trial": meta.get("trial")}
    if source.get("study") is None or source.get("trial") is None:
        raise ModelError(
            f"{args.file} was not exported by mtl-nas (no study in its metadata): bench compares "
            "an exported file with the trial it came from"
        )
    study = load_study(open_storage(args.storage), str(source["study"]))
    trial = study.get_trials(deepcopy=False)[int(source["trial"])]
    store = artifact_store(args.storage, args.artifacts, create=False)
    net, _ = load_trial_network(study, trial, store)
    print(
        f"{args.file}: study {source['study']!r} trial {source['trial']}, "
        f"{torch.get_num_threads()} torch threads, onnxruntime {model.provider}"
    )
    for batch in (1, 64):
        x = np.random.default_rng(0).standard_normal((batch, *model.input_shape)).astype(np.float32)
        xt = torch.from_numpy(x)
        ort_t: list[float] = []
        torch_t: list[float] = []
        run_ort = functools.partial(model, x)
        run_torch = functools.partial(net, xt)
        with torch.inference_mode():
            for _ in range(5):  # interleaved rounds: drift hits both alike
                ort_t += _timings(run_ort, max(1, args.repeats // 5))
                torch_t += _timings(run_torch, max(1, args.repeats // 5))
        p = {
            name: (statistics.median(t), float(np.percentile(t, 90)))
            for name, t in (("ort", ort_t), ("torch", torch_t))
        }
        print(
            f"batch {batch:2}: onnxruntime p50 {1e3 * p['ort'][0]:.3f} ms p90 "
            f"{1e3 * p['ort'][1]:.3f} ms | PyTorch eager p50 {1e3 * p['torch'][0]:.3f} ms p90 "
            f"{1e3 * p['torch'][1]:.3f} ms | onnxruntime/PyTorch p50 "
            f"{p['ort'][0] / p['torch'][0]:.2f} p90 {p['ort'][1] / p['torch'][1]:.2f}"
        )
    return 0


EXPORT_HANDLERS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], int]] = {
    "export": export,
    "predict": predict,
    "bench": bench,
}
