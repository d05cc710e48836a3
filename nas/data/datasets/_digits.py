"""MultiDigits: two real handwritten digits per image, MultiMNIST-style.

The digits are scikit-learn's bundled copy of UCI optdigits (1,797 real 8x8 scans, no download).
Each image places a left digit near the top left and a right digit near the bottom right of a
16x16 canvas, jittered so that they often overlap. Tasks: the left digit, the right digit and
their sum. Source scans are split 60/20/20 before composing, so no test scan is seen in training.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from nas.data._benchmark import Benchmark
from nas.data._tasks import Task
from nas.data.datasets._common import split_sizes, to_split
from nas.model.backbones._registry import BackboneSpec

__all__ = ["digits"]

SIZES = {"tiny": (256, 128, 128), "small": (1500, 400, 400), "default": (4000, 1000, 1000)}
CANVAS = 16


def _compose(
    images: np.ndarray, labels: np.ndarray, pool: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    left, right = rng.choice(pool, n), rng.choice(pool, n)
    canvas = np.zeros((n, 1, CANVAS, CANVAS), np.float32)
    offsets = rng.integers(0, 3, size=(n, 4))  # row/col jitter of each digit
    for k in range(n):
        r0, c0, r1, c1 = offsets[k] + (0, 0, 6, 6)
        canvas[k, 0, r0 : r0 + 8, c0 : c0 + 8] = images[left[k]]
        patch = canvas[k, 0, r1 : r1 + 8, c1 : c1 + 8]
        np.maximum(patch, images[right[k]], out=patch)  # overlapping strokes: keep the darker
    lab_l, lab_r = labels[left], labels[right]
    targets = {"left": lab_l, "right": lab_r, "sum": lab_l + lab_r}
    return canvas, targets, np.stack([left, right], axis=1)


def _optdigits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled optdigits: 1,797 scans (N, 8, 8), values 0-16, and their digits.

    Read from the CSV file scikit-learn installs, without importing ``sklearn.datasets``
    (which takes over a second, paid by every process that loads this benchmark); what
    ``load_digits`` returns when the file is not where this version keeps it.
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    roots = [] if spec is None else list(spec.submodule_search_locations or [])
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            raw = np.loadtxt(path, delimiter=",")
            return raw[:, :-1].reshape(-1, 8, 8), raw[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images, data.target.astype(np.int64)


def digits(size: str = "default", seed: int = 0) -> Benchmark:
    """Build MultiDigits; ``size`` is ``tiny``, ``small`` or ``default``."""
    scans, labels = _optdigits()
    images = (scans / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(images))
    cut1, cut2 = int(0.6 * len(perm)), int(0.8 * len(perm))
    pools = (perm[:cut1], perm[cut1:cut2], perm[cut2:])
    splits = [
        to_split(*_compose(images, labels, pool, n, rng))
        for pool, n in zip(pools, split_sizes("digits", size, SIZES), strict=True)
    ]
    return Benchmark(
        name="digits",
        input_shape=(1, CANVAS, CANVAS),
        tasks=(
            Task("left", "classification", 10),
            Task("right", "classification", 10),
            Task("sum", "classification", 19),
        ),
        train=splits[0],
        val=splits[1],
        test=splits[2],
        backbone=BackboneSpec("conv", {"widths": (16, 16, 32, 32), "strides": (1, 1, 2, 1)}),
    )
