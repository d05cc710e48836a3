"""Run an exported model with onnxruntime: the GPU when onnxruntime-gpu sees one, else the CPU.

from nas.runtime._session import OnnxModel
model = OnnxModel("model.onnx")
outputs = model(x)  # {task: array}, x of shape (batch, *model.input_shape), float32
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from nas.core._errors import UserError

__all__ = ["ModelError", "OnnxModel", "session_for"]


class ModelError(UserError, ValueError):
    """A model file, device or input that onnxruntime cannot use."""


# Errors only: onnxruntime-gpu logs a failed CUDA load on GPU-less machines, which is expected
# (the session falls back to the CPU and we read back which provider it uses).
ort.set_default_logger_severity(3)


def session_for(model: str | Path | bytes, device: str = "auto") -> ort.InferenceSession:
    """An inference session on CUDA when asked for (or ``auto`` and available), else the CPU.

    Creating a CUDA session can still fall back to the CPU (no usable GPU), so the providers
    actually in use are read back.
    """
    available = ort.get_available_providers()
    providers = ["CPUExecutionProvider"]
    # onnxruntime-gpu lists CUDA even where no driver is loaded; asking for it there only
    # logs a failed library load, so "auto" asks only when an NVIDIA driver is present.
    driver = Path("/proc/driver/nvidia").exists() or Path("/dev/nvidiactl").exists()
    wanted = device == "cuda" or (device == "auto" and driver)
    if wanted and "CUDAExecutionProvider" in available:
        providers.insert(0, "CUDAExecutionProvider")
    elif device == "cuda":
        raise ModelError(
            "device 'cuda' asked for, but this onnxruntime has no CUDA provider; "
            "install onnxruntime-gpu (and not onnxruntime beside it)"
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the CPU fallback warning is expected and handled above
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, sess_options=options, providers=providers)
    if device == "cuda" and session.get_providers()[0] != "CUDAExecutionProvider":
        raise ModelError("device 'cuda' asked for, but onnxruntime found no usable GPU")
    return session


class OnnxModel:
    """An exported mtl-nas model: call it with a batch, get ``{task: array}``."""

    def __init__(self, path: str | Path, device: str = "auto") -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {path}")
        try:
            self.session = session_for(path, device)
        except Exception as err:  # onnxruntime raises its own types for bad files
            if isinstance(err, ValueError):
                raise
            raise ModelError(f"{path} is not a loadable ONNX model: {err}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata: dict[str, Any] = {
            k.removeprefix("mtlnas."): json.loads(v)
            if k not in ("mtlnas.study", "mtlnas.version")
            else v
            for k, v in meta.items()
            if k.startswith("mtlnas.")
        }
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = tuple(int(d) for d in inp.shape[1:])
        self.tasks = [o.name for o in self.session.get_outputs()]

    @property
    def provider(self) -> str:
        """The execution provider in use."""
        return str(self.session.get_providers()[0])

    @property
    def input_dtype(self) -> str:
        """What the model takes, from its metadata (``float32`` when the file does not say)."""
        facts = self.metadata.get("input")
        return str(facts.get("dtype", "float32")) if isinstance(facts, dict) else "float32"

    def check_dtype(self, x: np.ndarray) -> None:
        """Refuse an array the model would misread once cast to its input type.

        Floating-point arrays are cast; integer images only when the model's metadata says it
        takes integers (an 8-bit image fed to a float model is off by a factor of 255).

        Raises:
            ModelError: naming the array's type and what the model takes.
        """
        takes = self.input_dtype
        if x.dtype.kind == "f":
            return
        if x.dtype.kind in "iu" and np.dtype(takes).kind in "iu":
            return
        hint = "convert it (e.g. x.astype(numpy.float32)) the way the training images were"
        if x.dtype.kind in "iu":
            hint = (
                "it expects images as the benchmark gave them (floats); convert and scale "
                "them the same way"
            )
        raise ModelError(f"input array is {x.dtype} but the model takes {takes}: {hint}")

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run a batch; ModelError names the expected shape or type when ``x`` does not fit."""
        x = np.asarray(x)
        self.check_dtype(x)
        if x.ndim == len(self.input_shape):
            x = x[None]  # one sample without its batch axis
        if tuple(x.shape[1:]) != self.input_shape:
            want = ", ".join(map(str, self.input_shape))
            raise ModelError(
                f"input of shape {tuple(x.shape)} does not fit the model: expected (batch, {want})"
            )
        outs = self.session.run(self.tasks, {self.input_name: x.astype(np.float32, copy=False)})
        return dict(zip(self.tasks, outs, strict=True))
