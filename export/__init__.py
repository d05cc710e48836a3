"""Export of a study's answer: the confirmed winner as a checked ONNX file with its metadata.

``export._onnx`` reads the study and writes the file; converting a network and serving a file
live below the study, in :mod:`nas.runtime` (``nas.runtime._session`` needs numpy and
onnxruntime only, never torch). ``export._cli`` adds ``export``, ``predict`` and ``bench`` to
``mtlnas``. Names load on first use: the command line registers its export commands on every
run, and ``onnx`` takes seconds to import. Type checkers read the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see: the same names, imported (a test keeps both equal)
    from export._cli import EXPORT_HANDLERS, add_export_commands
    from export._onnx import ExportError, ExportReport, export_trial, load_trial_network
    from export._reading import describe_outputs

# public name -> module that defines it
_EXPORTS = {
    "EXPORT_HANDLERS": "export._cli",
    "add_export_commands": "export._cli",
    "ExportError": "export._onnx",
    "ExportReport": "export._onnx",
    "export_trial": "export._onnx",
    "load_trial_network": "export._onnx",
    "describe_outputs": "export._reading",
}

__all__ = [
    "EXPORT_HANDLERS",
    "ExportError",
    "ExportReport",
    "add_export_commands",
    "describe_outputs",
    "export_trial",
    "load_trial_network",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
