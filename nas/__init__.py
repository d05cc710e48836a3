"""mtl-nas: neural architecture search for learned sharing in multi-task networks."""

from nas.backbones import Backbone, ConvBackbone, MLPBackbone, backbone_from_dict
from nas.heads import HeadSpec
from nas.layout import Layout, LayoutError
from nas.network import Cost, MultiTaskNetwork, build, cost

__version__ = "0.1.0"

__all__ = [
    "Backbone",
    "ConvBackbone",
    "Cost",
    "HeadSpec",
    "Layout",
    "LayoutError",
    "MLPBackbone",
    "MultiTaskNetwork",
    "__version__",
    "backbone_from_dict",
    "build",
    "cost",
]
