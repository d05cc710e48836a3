"""Joint augmentation of a training sample: the input and every dense target move together.

The transform MTAN and LibMTL train NYUv2 and Cityscapes with: a random scale-crop (a window
``1/s`` of the image at a random place, resized back) and a horizontal flip. The input is resized
bilinearly; each target moves as its kind says (``Kind.transform``): dense targets by nearest
neighbour, so class indices stay integers and the unlabelled markers (-1, 0 depth, zero normals)
stay markers; depth divided by ``s``, as the scene came ``s`` times closer; the normals' x
component negated by the flip, as the surface turned with the image.

Randomness comes only from the generator it is given; mtl-nas seeds that from (seed, epoch,
sample index) (:func:`nas.data._source.sample_generator`), so a sample's augmented copy is the
same for any number of loader workers and after a resume.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812

from nas.data._split import BenchmarkError
from nas.data._tasks import Task

__all__ = ["ScaleCropFlip"]

Targets = dict[str, torch.Tensor]


class ScaleCropFlip:
    """Random scale-crop and horizontal flip of an image and its dense targets.

    Args:
        tasks: the benchmark's tasks; pooled tasks' targets pass through unchanged.
        scales: zoom factors drawn uniformly, each at least 1 (MTAN's 1.0, 1.2, 1.5).
        flip: probability of a horizontal flip.

    Example:
        >>> aug = ScaleCropFlip([Task("n", "normals")], scales=(1.0,), flip=1.0)
        >>> right = torch.tensor([1.0, 0, 0]).view(3, 1, 1).expand(3, 2, 2)
        >>> aug(torch.zeros(3, 2, 2), {"n": right}, torch.Generator())[1]["n"][0, 0, 0].item()
        -1.0
    """

    def __init__(
        self, tasks: Sequence[Task], scales: Sequence[float] = (1.0, 1.2, 1.5), flip: float = 0.5
    ) -> None:
        if not scales or any(not s >= 1 for s in scales):
            raise BenchmarkError(f"augment: scales must be at least 1, got {list(scales)}")
        if not 0 <= flip <= 1:
            raise BenchmarkError(f"augment: flip is a probability in [0, 1], got {flip}")
        self.tasks = {t.name: t for t in tasks}
        self.scales = tuple(float(s) for s in scales)
        self.flip = float(flip)

    def __call__(
        self, x: torch.Tensor, targets: Targets, gen: torch.Generator
    ) -> tuple[torch.Tensor, Targets]:
        """One sample ``x`` (C, H, W) and its targets, transformed; the same shapes and types."""
        # Every draw is made whatever the outcome, so each sample uses its generator alike.
        draws = torch.rand(4, generator=gen).tolist()
        scale = self.scales[min(int(draws[0] * len(self.scales)), len(self.scales) - 1)]
        h, w = x.shape[-2:]
        ch, cw = max(1, int(h / scale)), max(1, int(w / scale))
        top, left = int(draws[1] * (h - ch + 1)), int(draws[2] * (w - cw + 1))
        flip = draws[3] < self.flip
        out = _window(x, top, left, ch, cw, (h, w), "bilinear")
        if flip:
            out = out.flip(-1)

        def window(y: torch.Tensor, mode: str) -> torch.Tensor:
            return _window(y, top, left, ch, cw, (h, w), mode)

        moved: Targets = {}
        for name, y in targets.items():
            task = self.tasks.get(name)
            moved[name] = y if task is None else task.spec.transform(y, window, scale, flip)
        return out, moved


def _window(
    t: torch.Tensor, top: int, left: int, ch: int, cw: int, size: tuple[int, int], mode: str
) -> torch.Tensor:
    """``t[..., top:top+ch, left:left+cw]`` resized to ``size``, in ``t``'s type."""
    crop = t[..., top : top + ch, left : left + cw]
    if crop.shape[-2:] == size:
        return crop.clone()
    flat = crop.reshape(1, -1, ch, cw)
    if mode == "nearest":
        # nearest-exact: the pixel whose centre is nearest, no shift towards the top-left.
        resized = F.interpolate(flat.float(), size=size, mode="nearest-exact")
    else:
        resized = F.interpolate(flat.float(), size=size, mode="bilinear", align_corners=False)
    return resized.reshape(*t.shape[:-2], *size).to(t.dtype)
