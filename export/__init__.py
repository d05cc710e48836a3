"""Export of a study's answer: the confirmed winner as a checked ONNX file with its metadata.

``export._onnx`` reads the study and writes the file; converting a network and serving a file
live below the study, in :mod:`nas.runtime` (``nas.runtime._session`` needs numpy and
onnxruntime only, never torch). ``export._cli`` adds ``export``, ``predict`` and ``bench`` to
``mtlnas``.
"""

from export._cli import EXPORT_HANDLERS, add_export_commands
from export._onnx import ExportError, ExportReport, export_trial, load_trial_network
from export._reading import describe_outputs

__all__ = [
    "EXPORT_HANDLERS",
    "ExportError",
    "ExportReport",
    "add_export_commands",
    "describe_outputs",
    "export_trial",
    "load_trial_network",
]
