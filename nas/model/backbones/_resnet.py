"""ResNet-18/34/50 (He et al. 2016) as backbones, one Layout depth per residual block.

Parameter names and shapes are torchvision's (``conv1``, ``bn1``, ``layer2.0.downsample.0``...),
so ImageNet state dicts people have load as they are (:mod:`nas.model.backbones._pretrained`);
torchvision itself is not needed. The stem (input normalisation, 7x7 conv, norm, max pool) is
shared by every task. Output stride 16 or 8 replaces the stride of the last one or two stages by
dilation (DeepLab, as AdaShare), so dense heads see a finer map; ``width`` scales every channel
count for small experiments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nas.model._heads import ASPPHead, HeadSpec, PooledHead
from nas.model.backbones._base import Shortcut

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BasicBlock",
    "Bottleneck",
    "ResNetBackbone",
    "Stem",
    "resnet18",
    "resnet34",
    "resnet50",
]

IMAGENET_MEAN = (
    0.485,
    0.456,
    0.406,
)  # what torchvision's ImageNet weights expect, inputs in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGES = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3), "resnet50": (3, 4, 6, 3)}
OUTPUT_STRIDES = (8, 16, 32)
Shape = tuple[int, ...]


def _bn_downsample(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (ResNet-18/34); both dilated in a dilated stage, as DeepLab does."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = (
            _bn_downsample(cin, planes, stride) if stride != 1 or cin != planes else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided and dilated), 1x1 expanding 4x (ResNet-50; torchvision's v1.5)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = _bn_downsample(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(bn3(conv3(...)) + shortcut(x))."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class Stem(nn.Module):
    """Input normalisation, then torchvision's ``conv1``, ``bn1``, ReLU and 3x3 max pool.

    The normalisation is part of the network (and of its ONNX file): callers feed images as the
    benchmark gives them. Mean and std are not saved with the weights; they come from the
    backbone's options.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cin: int, cout: int, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(cin, cout, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.maxpool = nn.MaxPool2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The quarter-resolution feature map block 0 reads."""
        x = (x - self.mean) / self.std
        out: torch.Tensor = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return out


@dataclass(frozen=True)
class ResNetBackbone:
    """A torchvision-compatible ResNet; block ``d`` is ``layer{i}.{j}`` in torchvision's names.

    Example:
        >>> b = ResNetBackbone("resnet18", width=0.25, output_stride=8)
        >>> b.depth, b.torchvision_name(7)
        (8, 'layer4.1')
    """

    arch: str = "resnet18"
    in_channels: int = 3
    width: float = 1.0  # multiplies every channel count (stem, stages, ASPP heads)
    output_stride: int = 32  # input size / final map size: 32 (plain), 16 or 8 (dilated)
    mean: tuple[float, ...] = IMAGENET_MEAN  # input normalisation, one value per channel
    std: tuple[float, ...] = IMAGENET_STD
    pretrained: str | None = None  # torchvision-named state dict every block instance starts from

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if self.arch not in STAGES:
            raise ValueError(f"unknown ResNet {self.arch!r}; choose one of {sorted(STAGES)}")
        if self.output_stride not in OUTPUT_STRIDES:
            raise ValueError(f"output_stride must be 8, 16 or 32, got {self.output_stride!r}")
        if isinstance(self.width, bool) or not 0 < self.width <= 4:
            raise ValueError(f"width must be a multiplier in (0, 4], got {self.width!r}")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(
                f"mean and std need one value per input channel ({self.in_channels}), got "
                f"{len(self.mean)} and {len(self.std)}"
            )
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if self.pretrained is not None:
            from nas.model.backbones._pretrained import check_file

            check_file(self)

    @property
    def _block(self) -> type[BasicBlock] | type[Bottleneck]:
        return Bottleneck if self.arch == "resnet50" else BasicBlock

    def _channels(self, base: int) -> int:
        return max(1, round(base * self.width))

    @functools.cached_property
    def _plan(self) -> list[tuple[str, int, int, int, int]]:
        """Per block: torchvision name, input channels, planes, stride, dilation."""
        rows, cin, dilation = [], self._channels(64), 1
        for i, count in enumerate(STAGES[self.arch]):
            planes, stride = self._channels(64 * 2**i), 1 if i == 0 else 2
            previous = dilation
            if (i == 3 and self.output_stride <= 16) or (i == 2 and self.output_stride == 8):
                dilation, stride = (
                    dilation * stride,
                    1,
                )  # torchvision's replace_stride_with_dilation
            for j in range(count):
                first = j == 0
                rows.append(
                    (
                        f"layer{i + 1}.{j}",
                        cin,
                        planes,
                        stride if first else 1,
                        previous if first else dilation,
                    )
                )
                cin = planes * self._block.expansion
        return rows

    @property
    def depth(self) -> int:
        """Number of residual blocks: 8 (ResNet-18) or 16 (ResNet-34/50)."""
        return sum(STAGES[self.arch])

    def scaled(self, width: float) -> ResNetBackbone:
        """The same network at ``width`` times this one's channels.

        Raises:
            ValueError: a pretrained backbone (its weights have one width), or a width beyond 4.
        """
        if self.pretrained is not None:
            raise ValueError(
                f"a pretrained {self.arch} has the width of its weights; it cannot be built at "
                f"{width:g}x (train from scratch to compare widths)"
            )
        return replace(self, width=self.width * width)

    def torchvision_name(self, d: int) -> str:
        """The torchvision prefix of block ``d``, e.g. ``layer3.1``."""
        return self._plan[d][0]

    def _load(self, module: nn.Module, prefix: str) -> nn.Module:
        if self.pretrained is not None and not next(module.parameters()).is_meta:
            from nas.model.backbones._pretrained import load_into

            load_into(module, self.pretrained, prefix)
        return module

    def stem(self) -> nn.Module:
        """The shared stem, from the pretrained file when there is one."""
        stem = Stem(self.in_channels, self._channels(64), self.mean, self.std)
        return self._load(stem, "")

    def block(self, d: int) -> nn.Module:
        """A new instance of block ``d``; every instance starts from the same pretrained weights."""
        name, cin, planes, stride, dilation = self._plan[d]
        return self._load(self._block(cin, planes, stride, dilation), name + ".")

    def skip(self, d: int) -> nn.Module | None:
        """Parameter-free shortcut of a skipped block: subsample, pad channels; None if neither."""
        _, cin, planes, stride, _ = self._plan[d]
        cout = planes * self._block.expansion
        return None if cin == cout and stride == 1 else Shortcut(cin, cout, stride, spatial=True)

    def head(self, spec: HeadSpec, feature: Shape, inp: Shape) -> nn.Module:
        """ASPP for dense tasks (one per task, as AdaShare); pooled linear otherwise."""
        if spec.kind == "pooled":
            return PooledHead(feature[0], spec.out)
        rates = tuple(r * 16 // self.output_stride for r in (6, 12, 18))  # DeepLab v3's at OS 16
        rates = tuple(r for r in rates if r < min(feature[1:]))  # larger ones see only padding
        return ASPPHead(feature[0], spec.out, (inp[1], inp[2]), rates, self._channels(256))


def _factory(arch: str) -> Callable[..., ResNetBackbone]:
    def make(
        input_shape: tuple[int, ...],
        width: float = 1.0,
        output_stride: int = 32,
        pretrained: str | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> ResNetBackbone:
        if len(input_shape) != 3:
            raise ValueError(f"backbone {arch!r} needs image inputs (C, H, W), got {input_shape}")
        cin = int(input_shape[0])
        if mean is None:  # ImageNet's for RGB; no shift for other channel counts
            mean = IMAGENET_MEAN if cin == 3 else (0.0,) * cin
        if std is None:
            std = IMAGENET_STD if cin == 3 else (1.0,) * cin
        return ResNetBackbone(arch, cin, width, output_stride, tuple(mean), tuple(std), pretrained)

    make.__name__ = arch
    make.__doc__ = (
        f"Backbone factory ``{arch}``: options ``width``, ``output_stride`` (32, 16, 8), "
        "``pretrained`` (a torchvision-named state dict file), ``mean`` and ``std`` (input "
        "normalisation; ImageNet's by default for RGB)."
    )
    return make


resnet18 = _factory("resnet18")
resnet34 = _factory("resnet34")
resnet50 = _factory("resnet50")
