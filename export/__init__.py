"""Export of a study's answer: the confirmed winner as a checked ONNX file with its metadata.

``export.onnx`` reads the study and writes the file; converting a network and serving a file
live below the study, in :mod:`nas.runtime` (``nas.runtime.session`` needs numpy and
onnxruntime only, never torch). ``export.cli`` adds ``export``, ``predict`` and ``bench`` to
``mtlnas``.
"""

__all__ = ["cli", "onnx"]
