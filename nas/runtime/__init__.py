"""Networks as ONNX graphs under onnxruntime: conversion, sessions, latency, the machine.

Imports :mod:`nas.core` and :mod:`nas.model`; a study's latency objective and ``export/`` use it.
Names load on first use: ``onnx`` takes seconds to import, and a study needs it only to time a
layout or export one. Type checkers read the same names from the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas.core._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers see: the same names, imported (a test keeps both equal)
    from nas.runtime._latency import SERVING_BATCH, Graph, Latency, measure_latency
    from nas.runtime._machine import cpu_model, numerics, worker_name
    from nas.runtime._onnx import (
        BATCHES,
        FP16_TOLERANCE,
        FP32_TOLERANCE,
        Parity,
        to_fp16,
        to_onnx,
        verify,
    )
    from nas.runtime._session import ModelError, OnnxModel, session_for

# public name -> module that defines it
_EXPORTS = {
    **dict.fromkeys(
        ("SERVING_BATCH", "Graph", "Latency", "measure_latency"), "nas.runtime._latency"
    ),
    **dict.fromkeys(("cpu_model", "numerics", "worker_name"), "nas.runtime._machine"),
    **dict.fromkeys(
        ("BATCHES", "FP16_TOLERANCE", "FP32_TOLERANCE", "Parity", "to_fp16", "to_onnx", "verify"),
        "nas.runtime._onnx",
    ),
    **dict.fromkeys(("ModelError", "OnnxModel", "session_for"), "nas.runtime._session"),
}

__all__ = [
    "BATCHES",
    "FP16_TOLERANCE",
    "FP32_TOLERANCE",
    "Graph",
    "Latency",
    "ModelError",
    "OnnxModel",
    "Parity",
    "SERVING_BATCH",
    "cpu_model",
    "measure_latency",
    "numerics",
    "session_for",
    "to_fp16",
    "to_onnx",
    "verify",
    "worker_name",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
