"""A network as an ONNX graph, and how closely onnxruntime runs it to PyTorch.

Conversion only: what a graph's metadata says about a study (its layout, metrics and origin)
is written by ``export/``, which reads the study.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import onnx
import torch

from nas.model._network import TaskNetwork
from nas.runtime._session import session_for

__all__ = ["BATCHES", "FP16_TOLERANCE", "FP32_TOLERANCE", "Parity", "to_fp16", "to_onnx", "verify"]

FP32_TOLERANCE = 1e-4  # max abs difference, onnxruntime vs PyTorch
FP16_TOLERANCE = 1e-2  # relative: max abs difference / max(1, max abs PyTorch output)
BATCHES = (1, 7, 64)


def to_onnx(net: TaskNetwork) -> onnx.ModelProto:
    """``net`` as an ONNX graph with a dynamic batch axis, one output per task (no metadata)."""
    # The dynamo exporter, deliberately: the legacy one is deprecated. A dict output is
    # flattened in task order, and output_names gives each its task's name.
    x = torch.randn(2, *net.input_shape)
    batch = torch.export.Dim("batch", min=1, max=4096)
    # The exporter logs each optional operator library it does not find; none is needed here.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            net,
            (x,),
            dynamo=True,
            input_names=["input"],
            output_names=list(net.tasks),
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )
    if program is None:
        raise RuntimeError("the ONNX exporter returned nothing")
    return program.model_proto


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with float16 weights and compute, float32 inputs and outputs."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel as _Graph

    model = convert_float_to_float16(model, keep_io_types=True)
    graph = _Graph(model)
    graph.topological_sort()  # the conversion appends input casts after their users
    sorted_model: onnx.ModelProto = graph.model
    return sorted_model


Parity = tuple[dict[int, float], str, float]
"""Per batch size the worst difference over tasks, the provider that ran, the tolerance."""


def verify(model: onnx.ModelProto, net: TaskNetwork, fp16: bool) -> Parity:
    """Run ``model`` in onnxruntime beside ``net`` in PyTorch on seeded inputs of ``BATCHES``."""
    session = session_for(model.SerializeToString())
    gen = torch.Generator().manual_seed(0)
    diffs: dict[int, float] = {}
    for batch in BATCHES:
        x = torch.randn(batch, *net.input_shape, generator=gen)
        with torch.no_grad():
            want = net(x)
        got = session.run(list(net.tasks), {"input": x.numpy()})
        worst = 0.0
        for task, y in zip(net.tasks, got, strict=True):
            ref = want[task].numpy()
            diff = float(np.abs(y.astype(np.float64) - ref).max())
            worst = max(worst, diff / max(1.0, float(np.abs(ref).max())) if fp16 else diff)
        diffs[batch] = worst
    return diffs, session.get_providers()[0], FP16_TOLERANCE if fp16 else FP32_TOLERANCE
