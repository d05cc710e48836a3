"""Backbones by name: built-ins, ones registered in code, and a user's by import path.

Like benchmarks, a backbone is named ``conv``, ``mlp`` or ``package.module:function``. The
function takes the benchmark's ``input_shape`` (one sample) plus keyword options and returns a
:class:`~nas.model.backbones._base.Backbone`::

    # my_backbones.py
    def wide(input_shape, width=64):
        return ConvBackbone(input_shape[0], (width,) * 4, (1, 2, 1, 1))

    mtlnas search --backbone my_backbones:wide --backbone-option width=96

A :class:`BackboneSpec` (name and options) is what a study stores; it is resolved once, against
the benchmark's input shape, into the backbone that training, confirm runs and export all use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nas.core._errors import UserError
from nas.core._plugins import Catalog
from nas.model.backbones._base import Backbone

__all__ = [
    "BACKBONE_CATALOG",
    "BackboneError",
    "BackboneSpec",
    "backbone_from_dict",
    "backbone_names",
    "create_backbone",
    "register_backbone",
]


class BackboneError(UserError, ValueError):
    """An unknown backbone, a bad option, or a backbone that does not fit the inputs."""


BACKBONE_CATALOG: Catalog[Backbone] = Catalog(
    "backbone", Backbone, BackboneError,
    refusal="{what} returned {got}, which lacks depth, block() or skip()",
)  # fmt: skip


def register_backbone(name: str) -> Callable[[Callable[..., Backbone]], Callable[..., Backbone]]:
    """Decorator: make a backbone factory ``fn(input_shape, **options)`` available by ``name``."""
    return BACKBONE_CATALOG.register(name)


def backbone_names() -> list[str]:
    """Built-in and registered backbone names."""
    return BACKBONE_CATALOG.names()


def auto(input_shape: tuple[int, ...]) -> Backbone:
    """The default: small residual conv blocks for images, a residual MLP for vectors."""
    from nas.model.backbones._conv import conv
    from nas.model.backbones._mlp import mlp

    return conv(input_shape) if len(input_shape) == 3 else mlp(input_shape)


def create_backbone(
    name: str, input_shape: tuple[int, ...], options: Mapping[str, Any] | None = None
) -> Backbone:
    """Resolve ``name`` and build its backbone for samples of ``input_shape``.

    Raises:
        BackboneError: unknown name, an option the factory does not take, a bad value, or a
            result that is not a backbone.
    """
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in (options or {}).items()}
    # ValueError: the factory's own checks of its options
    return BACKBONE_CATALOG.make(name, options, wrap=(ValueError,), input_shape=tuple(input_shape))


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone by name and options: what a benchmark suggests and a study stores.

    Example:
        >>> BackboneSpec("conv", {"widths": (8, 16)}).create((3, 16, 16)).depth
        2
    """

    name: str = "auto"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", dict(self.options))

    def create(self, input_shape: tuple[int, ...]) -> Backbone:
        """The backbone for samples of ``input_shape``."""
        return create_backbone(self.name, input_shape, self.options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        return {"name": self.name, "options": options}


def backbone_from_dict(data: Mapping[str, Any], input_shape: tuple[int, ...]) -> Backbone:
    """Rebuild a stored backbone: ``{"name", "options"}``, or the first record version's form.

    Raises:
        BackboneError: the description is neither.
    """
    if "name" in data:
        return BackboneSpec(data["name"], data.get("options", {})).create(input_shape)
    # Record version 1 stored the built-in classes' own fields under a "kind".
    from nas.model.backbones._conv import ConvBackbone
    from nas.model.backbones._mlp import MLPBackbone

    kinds: dict[str, type[ConvBackbone] | type[MLPBackbone]] = {
        "conv": ConvBackbone,
        "mlp": MLPBackbone,
    }
    kind = data.get("kind")
    if kind not in kinds:
        raise BackboneError(f"unknown stored backbone {dict(data)}; upgrade mtl-nas")
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"
    }
    return kinds[kind](**fields)
