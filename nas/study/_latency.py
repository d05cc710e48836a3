"""Latency as a cost the search can minimise or bound, measured once per layout per study.

A layout's latency is a property of its graph, not of its training: its freshly built network is
exported and timed under onnxruntime (:func:`nas.runtime._latency.measure_latency`, batch 1) side by
side with the independent networks, and the *ratio* of the two is kept. Ratios measured side by
side survive the drift of a noisy machine that absolute times do not; a layout's milliseconds
are its ratio times the independent networks' time, measured once when the study first needs
it. Both are stored on the study, one user attribute per layout (so workers never overwrite each
other's), and every later trial of that layout, in any process, reads them back instead of
measuring again. They describe the machine that measured them, which each entry names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nas.core._layout import Layout
from nas.study._store.record import StudyRecord
from nas.training._problem import Problem

if TYPE_CHECKING:
    from nas.runtime._latency import Graph

__all__ = ["LATENCY_KEY", "LatencyCache", "LayoutLatency", "measure_ratio"]

LATENCY_KEY = "mtlnas_latency"  # + ":" + layout digest -> {"ratio", "ms", "device"}
REFERENCE = "independent"  # the reference entry: the independent networks' milliseconds
REPEATS = 20  # timed runs per network; the median is kept


@dataclass(frozen=True)
class LayoutLatency:
    """A layout's latency at batch 1: a multiple of the independent networks', and milliseconds."""

    ratio: float
    ms: float
    device: str


def measure_ratio(
    problem: Problem, layout: Layout, reference: Layout, reference_graph: Graph | None = None
) -> tuple[float, float, str]:
    """(``layout``'s / ``reference``'s median batch-1 latency, reference ms, device), side by side.

    Weights do not change a graph's latency, so freshly built networks are timed.
    ``reference_graph``: the reference already exported (it is timed with every layout; its
    export costs as much as the timing several times over).
    """
    from nas.runtime._latency import measure_latency  # the serving graph is export's business

    ref = problem.build(reference).eval() if reference_graph is None else reference_graph
    same = reference_graph is not None and layout == reference
    nets = {"layout": ref if same else problem.build(layout).eval(), "reference": ref}
    timed = measure_latency(nets, batches=(1,), repeats=REPEATS)
    ms = timed.median_ms
    return ms["layout"][1] / ms["reference"][1], ms["reference"][1], timed.device


def _key(layout: Layout | None) -> str:
    if layout is None:
        return f"{LATENCY_KEY}:{REFERENCE}"
    digest = hashlib.sha256(layout.to_json().encode()).hexdigest()[:16]
    return f"{LATENCY_KEY}:{digest}"


class LatencyCache:
    """Each layout's latency in a study: read back when stored, else measured once and stored.

    Args:
        record: the study's record (where entries are kept).
        problem: builds the networks to time.
        independent: the independent networks' layout (what ratios are relative to).
    """

    def __init__(self, record: StudyRecord, problem: Problem, independent: Layout) -> None:
        self.record, self.problem, self.independent = record, problem, independent
        self._graph: Graph | None = None  # the independent networks, exported once per process

    def _reference(self) -> Graph:
        from nas.runtime._latency import Graph

        if self._graph is None:
            self._graph = Graph.of(self.problem.build(self.independent).eval())
        return self._graph

    def reference_ms(self) -> float:
        """The independent networks' batch-1 milliseconds for this study (measured once)."""
        stored = self.record.get(_key(None))
        if stored is None:
            _, ms, device = measure_ratio(
                self.problem, self.independent, self.independent, self._reference()
            )
            stored = {"ms": ms, "device": device}
            self.record.set(_key(None), stored)
        return float(stored["ms"])

    def get(self, layout: Layout) -> LayoutLatency:
        """``layout``'s latency, measured now only if no process of the study measured it."""
        stored = self.record.get(_key(layout))
        if stored is None:
            reference = self.reference_ms()
            if layout == self.independent:
                ratio, device = 1.0, str(self.record.get(_key(None))["device"])
            else:
                ratio, _, device = measure_ratio(
                    self.problem, layout, self.independent, self._reference()
                )
            stored = {"ratio": ratio, "ms": ratio * reference, "device": device}
            self.record.set(_key(layout), stored)
        return LayoutLatency(float(stored["ratio"]), float(stored["ms"]), str(stored["device"]))
