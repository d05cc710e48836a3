"""Built-in benchmarks, each a factory found by name through the plug-in catalog.

Generated: ``scenes`` (the default) and ``digits``. Read from disk in their reference projects'
published layouts (``--data DIR``): ``nyuv2`` and ``cityscapes`` (MTAN's preprocessed ``.npy``
folders), ``nyud`` (MTI-Net's NYUD-MT) and ``celeba`` (torchvision's). Each is also a
map-style Dataset of its own where it streams (:class:`NpyFolder`, :class:`NyudImages`,
:class:`CelebAImages`).
"""

from nas.data.datasets._celeba import CelebAImages, celeba
from nas.data.datasets._cityscapes import cityscapes
from nas.data.datasets._digits import digits
from nas.data.datasets._npy_folders import NpyFolder
from nas.data.datasets._nyud import NyudImages, nyud
from nas.data.datasets._nyuv2 import nyuv2
from nas.data.datasets._scenes import scenes

__all__ = [
    "CelebAImages",
    "NpyFolder",
    "NyudImages",
    "celeba",
    "cityscapes",
    "digits",
    "nyud",
    "nyuv2",
    "scenes",
]
