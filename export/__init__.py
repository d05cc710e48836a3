"""Export of a study's answer: the confirmed winner as a checked ONNX file with its metadata.

``export._onnx`` reads the study and writes the file; converting a network and serving a file
live below the study, in :mod:`nas.runtime` (``nas.runtime._session`` needs numpy and
onnxruntime only, never torch). ``export._cli`` adds ``export``, ``predict`` and ``bench`` to
``mtlnas``. Names load on first use: the command line registers its export commands on every
run, and ``onnx`` takes seconds to import. Type checkers read the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas.core._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
