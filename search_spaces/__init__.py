"""Search spaces over sharing layouts; each maps an Optuna trial to a Layout and back."""

from search_spaces.adashare import AdaShareSpace
from search_spaces.base import (
    LOSS_WEIGHTINGS,
    SearchSpace,
    SpaceError,
    make_space,
    register,
    space_names,
)
from search_spaces.branched import BranchedSpace

__all__ = [
    "LOSS_WEIGHTINGS",
    "AdaShareSpace",
    "BranchedSpace",
    "SearchSpace",
    "SpaceError",
    "make_space",
    "register",
    "space_names",
]
