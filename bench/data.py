"""Streamed against resident data: trial throughput side by side, and peak memory against size.

**Throughput.** One training run (the trainer mtl-nas uses for every trial: train, then
validate) on the same synthetic on-disk data set, once read into memory and indexed on the device
(resident) and once streamed from the memory-mapped file through the DataLoader (workers,
pinned memory on CUDA, one batch prefetched). Two sizes: NYUv2-like (288x384 RGB, ResNet-18,
segmentation and depth) and digits-like (1x16x16, the small conv backbone, three classifiers).
The two modes alternate over ``--repeats`` rounds on one warm source each (workers already up,
as in a study, where the sources live for the whole process); the medians' ratio is printed,
with the share of the streamed run the trainer spent waiting for a batch.

**Memory.** Peak resident memory (``ru_maxrss``) of the same trial, in a fresh process each, on
on-disk data sets of 10k, 100k and 1M digits-like samples (uint8 images, one memory-mapped
file): the same number of training steps each, so only the data set's size differs. The main
process and its loader worker are reported apart.

    python bench/data.py [--device cpu|cuda] [--repeats N] [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from nas.core import Layout
from nas.data import Benchmark, Source, Task, open_split
from nas.model.backbones import BackboneSpec
from nas.training import Problem, TrainConfig, train

SHAPES = {"nyuv2-like": (3, 288, 384), "digits-like": (1, 16, 16)}


class OnDisk(Dataset[Any]):
    """Items from ``images.npy`` (N, H, W, C) uint8, opened lazily in the reading process.

    ``reader``: ``mmap`` maps the file (the pages read stay mapped into the process, as page
    cache the kernel may drop); ``pread`` reads each sample's bytes with one system call.
    """

    def __init__(self, path: Path, start: int, stop: int, dense: bool, reader: str) -> None:
        self.path, self.start, self.stop, self.dense = path, start, stop, dense
        self.reader = reader
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.fd: int | None = None

    def __len__(self) -> int:
        return self.stop - self.start

    def _pixels(self, i: int) -> np.ndarray:
        if self.reader == "mmap":
            if self.images is None:
                self.images = np.load(self.path, mmap_mode="r")
            return np.array(self.images[i])
        if self.fd is None:
            header = np.load(self.path, mmap_mode="r")  # where the data start; nothing read
            self.offset, self.sample_shape = int(header.offset), header.shape[1:]
            del header
            self.fd = os.open(self.path, os.O_RDONLY)
        size = int(np.prod(self.sample_shape))
        raw = os.pread(self.fd, size, self.offset + i * size)
        pixels: np.ndarray = np.frombuffer(raw, dtype=np.uint8).reshape(self.sample_shape)
        return pixels

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pixels = self._pixels(self.start + i)
        x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255
        if self.dense:  # labels made from the pixels: 13 classes, and a depth map
            seg = (x[0] * 12.99).long()
            return x, {"seg": seg, "depth": x[1:2] + 0.1}
        if self.labels is None:  # the classes, stored beside the images as a label file is
            self.labels = np.load(_labels_path(self.path), mmap_mode="r")
        y = torch.from_numpy(np.array(self.labels[self.start + i]))
        return x, {"c0": y[0], "c1": y[1], "c2": y[2]}


def _labels_path(images: Path) -> Path:
    return images.with_name(images.name.replace("images_", "labels_"))


def make_file(folder: Path, n: int, shape: tuple[int, ...], seed: int = 0) -> Path:
    """``n`` random smooth uint8 images of ``shape`` (C, H, W), written in chunks, and three
    4-class labels per image (from its brightness) in a second file."""
    path = folder / f"images_{n}_{'x'.join(map(str, shape))}.npy"
    if path.exists() and _labels_path(path).exists():
        return path
    c, h, w = shape
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, h, w, c))
    labels = np.lib.format.open_memmap(_labels_path(path), mode="w+", dtype=np.int64, shape=(n, 3))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        coarse = rng.integers(0, 256, (m, max(1, h // 4), max(1, w // 4), c), dtype=np.uint8)
        out[start : start + m] = coarse.repeat(4, axis=1).repeat(4, axis=2)[:, :h, :w]
        bright = coarse.reshape(m, -1).mean(axis=1) / 255
        classes = [((bright * (k + 2)) % 1 * 4).astype(np.int64).clip(0, 3) for k in range(3)]
        labels[start : start + m] = np.stack(classes, axis=1)
    out.flush()
    labels.flush()
    return path


def benchmark(
    path: Path, n: int, size: str, reader: str = "mmap", shape: tuple[int, ...] | None = None
) -> Benchmark:
    """A benchmark on the file: the first 80% train, then 10% val and 10% test."""
    dense = size == "nyuv2-like"
    a, b = int(0.8 * n), int(0.9 * n)
    if dense:
        tasks: tuple[Task, ...] = (Task("seg", "segmentation", 13), Task("depth", "depth"))
        backbone = BackboneSpec("resnet18")
    else:
        tasks = tuple(Task(f"c{k}", "classification", 4) for k in range(3))
        backbone = BackboneSpec("conv", {"widths": (16, 16, 32, 32), "strides": (1, 1, 2, 1)})
    train, val, test = (OnDisk(path, lo, hi, dense, reader) for lo, hi in ((0, a), (a, b), (b, n)))
    return Benchmark(size, shape or SHAPES[size], tasks, train, val, test, backbone=backbone)


class Timed(Source):
    """A source that counts the seconds its reader waited for each batch."""

    def __init__(self, inner: Source) -> None:
        self.inner, self.waited = inner, 0.0
        self.device, self.plan_device = inner.device, inner.plan_device
        self.input_shape = inner.input_shape

    def __len__(self) -> int:
        return len(self.inner)

    def batches(
        self, plan: Iterable[Any], epoch: int | None = None, seed: int = 0
    ) -> Iterator[Any]:
        it = self.inner.batches(plan, epoch, seed)
        while True:
            start = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.waited += time.perf_counter() - start
            yield batch


def _status_mib(status: str) -> dict[str, float]:
    """Peak resident memory, and now: anonymous (the process's own) and file-backed (mapped
    files, here the memory-mapped data: page cache the kernel may drop), in MiB."""
    fields = {line.split(":")[0]: line.split() for line in status.splitlines() if ":" in line}
    mib = {k: int(fields[k][1]) / 1024 for k in ("VmHWM", "RssAnon", "RssFile") if k in fields}
    return {"peak_mib": mib["VmHWM"], "anon_mib": mib["RssAnon"], "file_mib": mib["RssFile"]}


def children() -> list[dict[str, float]]:
    """This process's child processes (the loader workers): memory (MiB) and CPU seconds."""
    me, tick, found = os.getpid(), os.sysconf("SC_CLK_TCK"), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) != me:  # field 4, the parent
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except (OSError, IndexError):
            continue  # gone meanwhile
        found.append({**_status_mib(status), "cpu_s": (int(stat[11]) + int(stat[12])) / tick})
    return found


def _trial(problem: Problem, train_src: Source, val_src: Source, config: TrainConfig) -> float:
    torch.manual_seed(0)
    net = problem.build(Layout.hard_sharing(problem.benchmark.task_names, problem.backbone.depth))
    net.to(problem.device)
    start = time.perf_counter()
    train(net, train_src, val_src, problem.tasks, config)
    if problem.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def throughput(
    folder: Path, device: torch.device, size: str, repeats: int, quick: bool = False
) -> None:
    """Samples per second of a whole trial, streamed over resident, warm sources."""
    n, batch, steps = (480, 8, 6) if size == "nyuv2-like" else (40_000, 128, 120)
    shape = SHAPES[size]
    if device.type == "cuda":
        n, steps = (n * 4, steps * 4) if size == "nyuv2-like" else (n, steps)
    if quick:  # a smoke run: every path taken, nothing measured worth quoting
        n, batch, steps = (40, 4, 2) if size == "nyuv2-like" else (2_000, 64, 4)
        shape = (3, 64, 96) if size == "nyuv2-like" else shape
    path = make_file(folder, n, shape)
    bench = benchmark(path, n, size, shape=shape)
    problem = Problem.prepare(bench.validate(), None, device)
    config = TrainConfig(epochs=1, batch_size=batch, steps_per_epoch=steps, amp=True)
    val_n = min(len(problem.val), steps * batch // 4)  # validation a quarter of the training
    modes: dict[str, tuple[Source, Source]] = {}
    for mode in ("resident", "streamed"):
        sub = Benchmark(bench.name, bench.input_shape, bench.tasks, bench.train,
                        _head(bench.val, val_n), bench.test, bench.backbone)  # fmt: skip
        modes[mode] = (Timed(open_split(sub, "train", device, mode=mode)),
                       open_split(sub, "val", device, mode=mode))  # fmt: skip
        _trial(problem, *modes[mode], config)  # warm-up: workers up, kernels chosen
    seconds: dict[str, list[float]] = {m: [] for m in modes}
    waited: dict[str, list[float]] = {m: [] for m in modes}
    worker_cpu: list[float] = []
    for _ in range(repeats):
        for mode, (tr, va) in modes.items():
            assert isinstance(tr, Timed)
            tr.waited = 0.0
            before = sum(c["cpu_s"] for c in children())
            seconds[mode].append(_trial(problem, tr, va, config))
            waited[mode].append(tr.waited)
            if mode == "streamed":
                worker_cpu.append(sum(c["cpu_s"] for c in children()) - before)
    samples = steps * batch + val_n
    rate = {m: samples / statistics.median(s) for m, s in seconds.items()}
    wait = {m: statistics.median(w) / statistics.median(seconds[m]) for m, w in waited.items()}
    ratio = rate["streamed"] / rate["resident"]
    print(f"  {size:12s} {samples} samples/trial: resident {rate['resident']:8.1f}/s, "
          f"streamed {rate['streamed']:8.1f}/s, streamed/resident {ratio:.2f}"
          f"  (waiting for batches: resident {100 * wait['resident']:.0f}%, "
          f"streamed {100 * wait['streamed']:.0f}% of the trial; loader workers used "
          f"{statistics.median(worker_cpu):.1f} CPU-s per "
          f"{statistics.median(seconds['streamed']):.1f} s trial, "
          f"{os.cpu_count()} cores)")  # fmt: skip


def _head(data: Any, n: int) -> Any:
    return torch.utils.data.Subset(data, range(n))


def rss_child(folder: Path, n: int, device: str, reader: str) -> None:
    """One streamed trial on an ``n``-sample file (this process), then its peak memory as JSON."""
    path = make_file(folder, n, SHAPES["digits-like"])
    bench = benchmark(path, n, "digits-like", reader)
    bench = Benchmark(bench.name, bench.input_shape, bench.tasks, bench.train,
                      _head(bench.val, 2_000), bench.test, bench.backbone)  # fmt: skip
    problem = Problem.prepare(bench.validate(), None, torch.device(device))
    config = TrainConfig(epochs=2, batch_size=128, steps_per_epoch=100)
    train_src = open_split(bench, "train", problem.device, mode="streamed")
    val_src = open_split(bench, "val", problem.device, mode="streamed")
    _trial(problem, train_src, val_src, config)
    own = _status_mib(Path("/proc/self/status").read_text())
    worker = max(children(), key=lambda c: c["peak_mib"])  # still running: read from /proc
    print(json.dumps({"main": own, "worker": worker}))


def memory(folder: Path, device: str, sizes: list[int], reader: str) -> None:
    """Peak memory of the same trial over data sets of each size, each in a fresh process."""
    print(f" reading samples by {reader}:")
    base = None
    for n in sizes:
        make_file(folder, n, SHAPES["digits-like"])  # written before, not counted in the trial
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(n), "--folder", str(folder),
             "--device", device, "--reader", reader],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        got = json.loads(out.strip().splitlines()[-1])
        base = base or got
        parts = []
        for who in ("main", "worker"):
            m, b = got[who], base[who]
            parts.append(
                f"{who} peak {m['peak_mib']:6.1f} MiB ({m['peak_mib'] / b['peak_mib']:.2f}x), "
                f"own {m['anon_mib']:6.1f} ({m['anon_mib'] / b['anon_mib']:.2f}x) + mapped files "
                f"{m['file_mib']:6.1f}"
            )
        print(f"  {n:>9,} samples: " + "; ".join(parts))


def main() -> None:
    # The trial's sources are opened here with an explicit mode; the problem's own must not read
    # a data set into memory first.
    os.environ["MTLNAS_DATA"] = "streamed"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--folder", help="where the data files go (default: a temporary folder)")
    parser.add_argument("--only", choices=["throughput", "memory"])
    parser.add_argument("--quick", action="store_true", help="a smoke run of the throughput")
    parser.add_argument("--readers", default="mmap,pread", help="how the data set reads samples")
    parser.add_argument("--reader", default="mmap", help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.rss_child:
            rss_child(folder, args.rss_child, args.device, args.reader)
            return
        device = torch.device(args.device)
        print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
        if args.only in (None, "throughput"):
            print("whole-trial throughput (train then validate), median of "
                  f"{args.repeats} alternating rounds:")  # fmt: skip
            for size in SHAPES:
                throughput(folder, device, size, args.repeats, args.quick)
        if args.only in (None, "memory"):
            print("peak memory of one streamed trial (200 steps of 128, 2,000 validation samples):")
            for reader in args.readers.split(","):
                memory(folder, args.device, [int(s) for s in args.sizes.split(",")], reader)


if __name__ == "__main__":
    main()
