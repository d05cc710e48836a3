"""Search spaces over sharing layouts; each maps an Optuna trial to a Layout and back."""

from search_spaces._adashare import AdaShareSpace
from search_spaces._base import (
    LOSS_WEIGHTINGS,
    SPACE_CATALOG,
    SearchSpace,
    SpaceError,
    make_space,
    register,
    space_names,
)
from search_spaces._branched import BranchedSpace

__all__ = [
    "SPACE_CATALOG",
    "LOSS_WEIGHTINGS",
    "AdaShareSpace",
    "BranchedSpace",
    "SearchSpace",
    "SpaceError",
    "make_space",
    "register",
    "space_names",
]
