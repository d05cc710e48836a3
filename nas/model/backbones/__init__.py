"""Backbones: the blocks a Layout routes tasks through, chosen by name or import path."""

from nas.model.backbones._base import Backbone, Shortcut, at_width, head_of, stem_of
from nas.model.backbones._conv import ConvBackbone, ConvBlock
from nas.model.backbones._measure import ModuleCost, block_cost, measure
from nas.model.backbones._mlp import MLPBackbone, MLPBlock
from nas.model.backbones._pretrained import torchvision_state_dict
from nas.model.backbones._registry import (
    BACKBONE_CATALOG,
    BackboneError,
    BackboneSpec,
    backbone_from_dict,
    backbone_names,
    create_backbone,
    register_backbone,
)
from nas.model.backbones._resnet import ResNetBackbone

__all__ = [
    "BACKBONE_CATALOG",
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
    "at_width",
    "head_of",
    "measure",
    "register_backbone",
    "ResNetBackbone",
    "stem_of",
    "torchvision_state_dict",
]
