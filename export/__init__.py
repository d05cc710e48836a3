"""Export of a searched multi-task network to ONNX, and a runtime for the exported file."""

__all__: list[str] = []
