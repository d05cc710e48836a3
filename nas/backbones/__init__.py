"""Backbones: the blocks a Layout routes tasks through, chosen by name or import path."""

from nas.backbones.base import Backbone, Shortcut
from nas.backbones.conv import ConvBackbone, ConvBlock
from nas.backbones.measure import ModuleCost, block_cost, measure
from nas.backbones.mlp import MLPBackbone, MLPBlock
from nas.backbones.registry import (
    BackboneError,
    BackboneSpec,
    backbone_from_dict,
    backbone_names,
    create_backbone,
    register_backbone,
)

__all__ = [
    "Backbone",
    "BackboneError",
    "BackboneSpec",
    "ConvBackbone",
    "ConvBlock",
    "MLPBackbone",
    "MLPBlock",
    "ModuleCost",
    "Shortcut",
    "backbone_from_dict",
    "backbone_names",
    "block_cost",
    "create_backbone",
    "measure",
    "register_backbone",
]
