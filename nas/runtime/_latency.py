"""Latency of exported networks under onnxruntime, measured side by side on this machine.

What a deployment pays per batch: each network is exported to ONNX (the graph ``mtlnas
export`` writes), run by onnxruntime on the device it would serve on, and timed at batch 1 and
a serving batch. The networks are timed in interleaved rounds, so drift on a noisy machine hits
all of them alike and their ratios stay meaningful; absolute times are this machine's only.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nas.model._network import TaskNetwork
from nas.runtime._machine import cpu_model
from nas.runtime._onnx import to_onnx
from nas.runtime._session import session_for

__all__ = ["SERVING_BATCH", "Graph", "Latency", "measure_latency"]

SERVING_BATCH = 64
ROUNDS = 5  # interleaved rounds; each times every network ``repeats // ROUNDS`` times


@dataclass(frozen=True)
class Graph:
    """A network exported once, to be timed again without a second export (seconds each).

    Attributes:
        onnx: the serialized ONNX model.
        input_shape: one sample's shape.
    """

    onnx: bytes
    input_shape: tuple[int, ...]

    @classmethod
    def of(cls, net: TaskNetwork) -> Graph:
        """Export ``net`` (the graph ``mtlnas export`` writes)."""
        return cls(to_onnx(net).SerializeToString(), tuple(net.input_shape))


@dataclass(frozen=True)
class Latency:
    """Median milliseconds per batch of each network, and where they were measured.

    Attributes:
        device: onnxruntime's provider and the machine (CPU model, threads, or the GPU).
        median_ms: network name -> {batch size: median milliseconds per batch}.
        repeats: timed runs per network and batch size.
    """

    device: str
    median_ms: dict[str, dict[int, float]]
    repeats: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (batch sizes as strings)."""
        ms = {k: {str(b): v for b, v in d.items()} for k, d in self.median_ms.items()}
        return {"device": self.device, "median_ms": ms, "repeats": self.repeats}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Latency:
        """Inverse of :meth:`to_dict`."""
        ms = {k: {int(b): float(v) for b, v in x.items()} for k, x in d["median_ms"].items()}
        return cls(str(d["device"]), ms, int(d["repeats"]))


def measure_latency(
    nets: Mapping[str, TaskNetwork | Graph],
    batches: tuple[int, ...] = (1, SERVING_BATCH),
    repeats: int = 30,
    device: str = "auto",
) -> Latency:
    """Export each network (unless given as a :class:`Graph`) and time them in interleaved rounds.

    ``device``: as :func:`nas.runtime._session.session_for` (``auto``: CUDA when there is one).
    """
    graphs = {n: g if isinstance(g, Graph) else Graph.of(g) for n, g in nets.items()}
    sessions = {n: session_for(g.onnx, device) for n, g in graphs.items()}
    provider = next(iter(sessions.values())).get_providers()[0]
    shape = next(iter(graphs.values())).input_shape
    rng = np.random.default_rng(0)
    inputs = {b: rng.standard_normal((b, *shape)).astype(np.float32) for b in batches}
    times: dict[str, dict[int, list[float]]] = {n: {b: [] for b in batches} for n in sessions}
    per_round = max(1, repeats // ROUNDS)
    for session in sessions.values():  # warm-up: first runs allocate and pick kernels
        for b in batches:
            session.run(None, {"input": inputs[b]})
    for _ in range(ROUNDS):
        for name, session in sessions.items():
            for b in batches:
                for _ in range(per_round):
                    start = time.perf_counter()
                    session.run(None, {"input": inputs[b]})
                    times[name][b].append(time.perf_counter() - start)
    if provider.startswith("CUDA"):
        machine = torch.cuda.get_device_name() if torch.cuda.is_available() else "a GPU"
    else:  # onnxruntime's own thread pool: one thread per core by default
        machine = f"{cpu_model()}, {os.cpu_count()} cores"
    median = {n: {b: 1e3 * statistics.median(t) for b, t in d.items()} for n, d in times.items()}
    return Latency(f"onnxruntime {provider} on {machine}", median, per_round * ROUNDS)
