"""Networks as ONNX graphs under onnxruntime: conversion, sessions, latency, the machine.

Imports :mod:`nas.core` and :mod:`nas.model`; a study's latency objective and ``export/`` use it.
"""

__all__ = ["latency", "machine", "onnx", "session"]
