"""What predict prints per task kind: classes, labels on, probabilities or values with range."""

from __future__ import annotations

import numpy as np

from export import describe_outputs


def test_each_kind_reads_as_its_answer() -> None:
    rng = np.random.default_rng(0)
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]], dtype=np.float32)
    outputs = {
        "cls": logits,
        "tags": np.array([[1.0, -1.0, 2.0], [-3.0, -1.0, -2.0]], dtype=np.float32),
        "seg": rng.standard_normal((2, 4, 3, 3)).astype(np.float32),
        "edge": np.zeros((2, 1, 3, 3), dtype=np.float32),
        "age": np.array([[31.5], [40.25]], dtype=np.float32),
        "depth": np.full((2, 1, 3, 3), 2.5, dtype=np.float32),
    }
    tasks = [
        {"name": "cls", "kind": "classification"},
        {"name": "tags", "kind": "multilabel"},
        {"name": "seg", "kind": "segmentation"},
        {"name": "edge", "kind": "edges"},
        {"name": "age", "kind": "regression"},
        {"name": "depth", "kind": "depth"},
    ]
    lines = describe_outputs(outputs, tasks)
    assert lines[0] == "cls (classification): class per sample: 1, 0"
    assert lines[1] == "tags (multilabel): labels on (probability > 0.5) per sample: [0, 2], []"
    assert lines[2].startswith("seg (segmentation): class map (2, 3, 3), classes present: [")
    assert lines[3] == (
        "edge (edges): probability map (2, 1, 3, 3), range [0.5, 0.5], 0.0% of pixels above 0.5"
    )
    assert lines[4] == "age (regression): value per sample: 31.5, 40.25"
    assert lines[5] == "depth (depth): depth map (2, 1, 3, 3), range [2.5, 2.5]"


def test_a_file_without_task_metadata_gets_shape_and_range() -> None:
    (line,) = describe_outputs({"y": np.arange(4, dtype=np.float32).reshape(2, 2)}, None)
    assert line == "y: values (2, 2), range [0, 3]"


def test_long_batches_are_cut_with_their_size() -> None:
    (line,) = describe_outputs(
        {"c": np.eye(3, dtype=np.float32)[[0, 1, 2] * 4]}, [{"name": "c", "kind": "classification"}]
    )
    assert line.endswith("... (12 samples)")
