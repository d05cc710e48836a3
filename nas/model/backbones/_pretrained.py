"""Pretrained ResNet weights from a local, torchvision-named state dict file.

The file is what ``torch.save(model.state_dict(), path)`` writes for a torchvision ResNet (the
ImageNet files people already have), optionally wrapped as ``{"state_dict": ...}`` or
``{"model": ...}`` and with DataParallel's ``module.`` prefix. It is checked once, when the
backbone is made: a missing key, an unknown key or a shape that does not fit is refused, naming
it. The classifier (``fc.*``) is ignored: every task gets its own head. Every block instance a
Layout uses starts from the same weights (a branch is a copy of the trunk's block).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from nas.model._network import MultiTaskNetwork
    from nas.model.backbones._resnet import ResNetBackbone

__all__ = ["check_file", "load_into", "read_state_dict", "torchvision_state_dict"]

IGNORED = ("fc.weight", "fc.bias")  # the ImageNet classifier: task heads replace it
OPTIONAL = "num_batches_tracked"  # older files lack these counters; they do not affect outputs
SHOWN = 3  # keys named in an error before "and N more"


def _some(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a state dict file (remembered while the file is unchanged).

    Raises:
        ValueError: the file is missing or is not a state dict; one line naming the file.
    """
    try:
        stat = os.stat(path)
    except OSError as err:
        raise ValueError(f"pretrained file {path}: {err.strerror}; give an existing file") from None
    return _read(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read(path: str, mtime_ns: int, size: int) -> dict[str, torch.Tensor]:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors alike: the file is not usable
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"pretrained file {path} is not a PyTorch state dict ({reason})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise ValueError(f"pretrained file {path} holds no state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in data.items()}


def _expected(backbone: ResNetBackbone) -> dict[str, tuple[int, ...]]:
    """Every torchvision key the backbone needs, with its shape (built on the meta device)."""
    with torch.device("meta"):
        parts = [("", backbone.stem())]
        parts += [
            (backbone.torchvision_name(d) + ".", backbone.block(d)) for d in range(backbone.depth)
        ]
    return {
        prefix + k: tuple(v.shape)
        for prefix, module in parts
        for k, v in module.state_dict().items()
    }


def check_file(backbone: ResNetBackbone) -> None:
    """Refuse a file that does not fit ``backbone`` exactly (keys and shapes).

    Raises:
        ValueError: one line naming the missing, unknown or mis-shaped keys.
    """
    assert backbone.pretrained is not None
    path = backbone.pretrained
    have = read_state_dict(path)
    want = _expected(backbone)
    missing = [k for k in want if k not in have and not k.endswith(OPTIONAL)]
    unknown = [k for k in have if k not in want and k not in IGNORED]
    shapes = [
        f"{k} {tuple(have[k].shape)} (needs {want[k]})"
        for k in want
        if k in have and tuple(have[k].shape) != want[k]
    ]
    what = f"{backbone.arch} at width {backbone.width}"
    faults = []
    if missing:
        faults.append(f"lacks keys of {what}: {_some(missing)}")
    if unknown:
        faults.append(f"has keys {backbone.arch} does not have: {_some(unknown)}")
    if shapes:
        faults.append(f"does not fit {what}: {_some(shapes)}")
    if faults:
        hint = "; is it a file of another network or width?"
        raise ValueError(f"pretrained file {path} " + "; ".join(faults) + hint)


@torch.no_grad()
def load_into(module: nn.Module, path: str, prefix: str) -> None:
    """Copy the file's ``prefix``-named tensors into ``module`` (already checked to fit)."""
    have = read_state_dict(path)
    for key, tensor in module.state_dict().items():
        source = have.get(prefix + key)
        if source is None:  # an optional counter (checked: nothing else may be missing)
            continue
        tensor.copy_(source)


def torchvision_state_dict(
    net: MultiTaskNetwork, backbone: ResNetBackbone
) -> dict[str, torch.Tensor]:
    """``net``'s stem and first instance of every block, under torchvision's names.

    Saved with ``torch.save``, this is a file ``--pretrained`` takes: e.g. to start a study from
    a network another study trained.

    Raises:
        ValueError: some depth has no block instance (every task skips it).
    """
    out = {k: v.detach().clone() for k, v in net.stem.state_dict().items()}
    for d in range(backbone.depth):
        names = sorted(n for n in net.blocks if n.startswith(f"b{d}_"))
        if not names:
            raise ValueError(f"depth {d} has no block instance: every task skips it")
        block = net.blocks[names[0]]
        prefix = backbone.torchvision_name(d) + "."
        out.update({prefix + k: v.detach().clone() for k, v in block.state_dict().items()})
    return out
