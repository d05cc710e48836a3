"""Search spaces over sharing layouts; each maps an Optuna trial to a Layout and back."""

from search_spaces.adashare import AdaShareSpace
from search_spaces.base import SearchSpace, make_space, register, space_names
from search_spaces.branched import BranchedSpace

__all__ = ["AdaShareSpace", "BranchedSpace", "SearchSpace", "make_space", "register", "space_names"]
