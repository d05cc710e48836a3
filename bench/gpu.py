"""What one device buys: a trial's speed and memory, each figure a ratio measured in this run.

Two trial sizes: the main job's (the ``scenes`` benchmark's network, hard sharing) and a ResNet-18
at NYUv2-like size (288x384, segmentation and depth). For each it prints:

  trainer / plain loop   mtl-nas's trainer over a hand-written PyTorch loop training the same
                         network on the same batches (AdamW, the sum of the task losses, the
                         same autocast): the trainer's own overhead (target >= 0.9);
  AMP on / off           autocast (bf16 where supported) over float32 (CUDA only);
  channels-last on / off NHWC over NCHW (CUDA only);
  K trials per device    aggregate trainings per hour with K trial processes sharing the device,
                         over one (K = 1, 2, 4), each process limited to its share of the cores;
  peak memory            per trial: the device's peak allocation (CUDA) or the process's peak
                         resident memory (CPU);
  onnxruntime / torch    the exported graph's latency under onnxruntime (its CUDA provider on a
                         GPU) over torch's eager forward of the same network, batch 1 and 64.

Then it runs ``bench/data.py --only throughput`` (streamed over resident data) and
``bench/executor.py`` (the executor's ratios) on the same device. Pairs are interleaved over
``--repeats`` rounds and medians compared; absolute times on shared machines mean little.
``--quick`` shrinks everything to a smoke run (the tests run it on the CPU): tiny sizes, one
round, 1 and 2 trials per device, and the several-trial and serving lines for the first size.

    python bench/gpu.py [--device cuda|cpu] [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from nas.core import Layout
from nas.data import Benchmark, Resident, Split, Task, load_benchmark
from nas.model.backbones import BackboneSpec
from nas.training import Problem, TrainConfig, train
from nas.training._train import autocast_for

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Case:
    """One trial size: how to make its benchmark, and its batch and step counts."""

    name: str
    batch: int
    steps: int


def _bench(case: str, quick: bool) -> Benchmark:
    if case == "main job":
        return load_benchmark("scenes", size="tiny" if quick else "default")
    n, (h, w) = (24, (64, 96)) if quick else (256, (288, 384))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, h, w, generator=g)
    targets = {"seg": (x[:, 0] * 12.99).long(), "depth": x[:, 1:2] + 0.1}
    split = Split(x, targets)
    tasks = (Task("seg", "segmentation", 13), Task("depth", "depth"))
    return Benchmark("nyuv2-like", (3, h, w), tasks, split, split, split, BackboneSpec("resnet18"))


def _cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("main job", 16, 3), Case("nyuv2-like", 4, 2)]
    return [Case("main job", 64, 60), Case("nyuv2-like", 8, 30)]


def _problem(case: Case, quick: bool, device: torch.device) -> Problem:
    return Problem.prepare(_bench(case.name, quick), None, device)


def _net(problem: Problem) -> torch.nn.Module:
    torch.manual_seed(0)
    layout = Layout.hard_sharing(problem.benchmark.task_names, problem.backbone.depth)
    return problem.build(layout).to(problem.device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def trainer_seconds(problem: Problem, case: Case, **config: object) -> float:
    """Seconds of training (validation excluded) for ``case.steps`` steps of the trainer."""
    cfg = TrainConfig(epochs=1, batch_size=case.batch, steps_per_epoch=case.steps)
    cfg = replace(cfg, **config)  # type: ignore[arg-type]
    result = train(_net(problem), problem.train, problem.val, problem.tasks, cfg)
    return result.train_seconds


def plain_seconds(problem: Problem, case: Case, amp: bool = True) -> float:
    """The same steps in a hand-written loop: forward, summed losses, backward, AdamW step."""
    net, device = _net(problem), problem.device
    assert isinstance(problem.train, Resident)
    split = problem.train.split
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(0)).to(device)
    net.train()
    _sync(device)
    start = time.perf_counter()
    for step in range(case.steps):
        idx = order[(step * case.batch) % len(split) :][: case.batch]
        with autocast_for(device, amp):
            out = net(split.x[idx])
        loss = sum(t.compute_loss(out[t.name], split.targets[t.name][idx]) for t in problem.tasks)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        opt.step()
    _sync(device)
    return time.perf_counter() - start


def _ratio(a: list[float], b: list[float]) -> float:
    """Speed of a over speed of b, from the medians of their seconds."""
    return statistics.median(b) / statistics.median(a)


def speed(case: Case, quick: bool, device: torch.device, repeats: int) -> None:
    """Trainer over plain loop, AMP and channels-last, on warm kernels, interleaved."""
    problem = _problem(case, quick, device)
    trainer_seconds(problem, case)  # warm-up: kernels chosen, caches filled
    runs: dict[str, list[float]] = {"trainer": [], "plain": []}
    for _ in range(repeats):
        runs["trainer"].append(trainer_seconds(problem, case))
        runs["plain"].append(plain_seconds(problem, case))
    line = f"  {case.name:10s} trainer / plain loop {_ratio(runs['trainer'], runs['plain']):.2f}"
    if device.type == "cuda":
        pairs = {"amp": ({"amp": True}, {"amp": False}),
                 "channels-last": ({"channels_last": True}, {"channels_last": False})}  # fmt: skip
        for label, (on, off) in pairs.items():
            a = [trainer_seconds(problem, case, **on) for _ in range(repeats)]
            b = [trainer_seconds(problem, case, **off) for _ in range(repeats)]
            line += f", {label} on / off {_ratio(a, b):.2f}"
    else:
        line += " (AMP and channels-last apply on CUDA only)"
    samples = case.steps * case.batch / statistics.median(runs["trainer"])
    print(line + f"; the trainer at {samples:.1f} samples/s")


def child_trial(case_name: str, quick: bool, device: str) -> None:
    """One trial in this process, then its seconds and peak memory as JSON (for ``per_device``)."""
    case = next(c for c in _cases(quick) if c.name == case_name)
    problem = _problem(case, quick, torch.device(device))
    if problem.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(problem.device)
    seconds = trainer_seconds(problem, case)
    if problem.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(problem.device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


def per_device(case: Case, quick: bool, device: str, counts: list[int]) -> None:
    """Aggregate trainings per hour with K concurrent trial processes, over one."""
    cores = os.cpu_count() or 1
    rates, peak = {}, 0.0
    for k in counts:
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // k))}  # a share of the cores
        cmd = [sys.executable, __file__, "--child", case.name, "--device", device]
        cmd += ["--quick"] if quick else []
        start = time.perf_counter()
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(k)]  # fmt: skip
        outs = [p.communicate()[0] for p in procs]
        wall = time.perf_counter() - start
        if any(p.returncode for p in procs):
            raise SystemExit(f"a trial process for {case.name} failed")
        peak = max(peak, *(json.loads(o.strip().splitlines()[-1])["peak_mib"] for o in outs))
        rates[k] = k / wall * 3600  # whole processes, start-up included, as a worker pays it
    base = rates[counts[0]]
    shown = ", ".join(f"{k}: {rates[k]:.0f}/h ({rates[k] / base:.2f}x)" for k in counts)
    what = "device peak allocation" if device.startswith("cuda") else "process peak RSS"
    print(f"  {case.name:10s} trainings per hour by trials per device: {shown}; "
          f"{what} per trial {peak:.0f} MiB")  # fmt: skip


def serving(case: Case, quick: bool, device: torch.device, repeats: int) -> None:
    """The exported graph under onnxruntime over torch's eager forward, batch 1 and 64.

    onnxruntime runs on CUDA when the device is one and onnxruntime-gpu can load it there
    (``nas.runtime``'s own choice of providers), else on the CPU; both sides are timed in the
    same interleaved rounds on warm kernels.
    """
    from nas.runtime._latency import Graph
    from nas.runtime._session import session_for

    problem = _problem(case, quick, torch.device("cpu"))
    net = _net(problem).eval()
    session = session_for(Graph.of(net).onnx, "cuda" if device.type == "cuda" else "cpu")
    provider = session.get_providers()[0].removesuffix("ExecutionProvider")
    net = net.to(device)
    times: dict[tuple[str, int], list[float]] = {}
    shape = problem.benchmark.input_shape
    for b in (1, 64):
        x = torch.rand(b, *shape, generator=torch.Generator().manual_seed(0))
        xd, xn = x.to(device), x.numpy()
        for _ in range(2):  # warm-up
            with torch.no_grad():
                net(xd)
            session.run(None, {"input": xn})
        for _ in range(max(3, 10 * repeats)):
            _sync(device)
            start = time.perf_counter()
            with torch.no_grad():
                net(xd)
            _sync(device)
            times.setdefault(("torch", b), []).append(time.perf_counter() - start)
            start = time.perf_counter()
            session.run(None, {"input": xn})  # outputs come back to the host, as served
            times.setdefault(("ort", b), []).append(time.perf_counter() - start)
    shown = ", ".join(
        f"batch {b}: {1e3 * statistics.median(times[('ort', b)]):.2f} / "
        f"{1e3 * statistics.median(times[('torch', b)]):.2f} ms "
        f"({_ratio(times[('torch', b)], times[('ort', b)]):.2f}x)"
        for b in (1, 64)
    )
    print(f"  {case.name:10s} onnxruntime {provider} / torch {device.type}: {shown}")


def _run(script: str, *args: str) -> None:
    out = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    print("\n".join("  " + line for line in out.strip().splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is visible")
    if args.child:
        child_trial(args.child, args.quick, args.device)
        return
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {os.cpu_count()} cores")
    repeats = 1 if args.quick else args.repeats
    counts = [1, 2] if args.quick else [1, 2, 4]
    print("one trial's training, medians of interleaved rounds:")
    for case in _cases(args.quick):
        speed(case, args.quick, device, repeats)
    print("several trials sharing the device (separate processes, as workers are):")
    for case in _cases(args.quick)[: 1 if args.quick else None]:  # quick: the first size only
        per_device(case, args.quick, args.device, counts)
    print("the exported graph: onnxruntime over torch (median ms per batch; ratio of times):")
    for case in _cases(args.quick)[: 1 if args.quick else None]:
        serving(case, args.quick, device, repeats)
    print("streamed over resident data (bench/data.py):")
    data = ["--only", "throughput", "--device", args.device, "--repeats", str(repeats)]
    _run("data.py", *data, *(["--quick"] if args.quick else []))
    print("the executor (bench/executor.py):")
    executor = ["--device", device.type, "--repeats", "2" if args.quick else "10"]
    _run("executor.py", *executor, *(["--case", "conv", "--batch", "8"] if args.quick else []))


if __name__ == "__main__":
    main()
