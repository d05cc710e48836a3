"""Export of a searched multi-task network to ONNX, and a runtime for the exported file.

``export.onnx`` (needs torch) writes and verifies a model; ``export.runtime`` (numpy and
onnxruntime only) serves one. They are imported explicitly so that serving never loads torch.
"""

__all__ = ["cli", "onnx", "runtime"]
