"""The plug-in catalog: names, import paths, options and what a factory makes."""

from __future__ import annotations

import pytest

from nas.core import Catalog, UserError
from nas.data import BENCHMARK_CATALOG as BENCHMARKS
from nas.data.datasets import digits


class PartError(UserError, ValueError):
    pass


def _catalog() -> Catalog[int]:
    return Catalog("strategy", int, PartError)


def test_a_path_stored_before_modules_became_private_resolves_to_the_same_function() -> None:
    assert BENCHMARKS.resolve("nas.data.datasets.digits:digits") is digits
    assert BENCHMARKS.resolve("nas.data.datasets._digits:digits") is digits
    with pytest.raises(Exception, match=r"cannot import 'nas\.data\.datasets\.nope'"):
        BENCHMARKS.resolve("nas.data.datasets.nope:digits")


def test_make_binds_options_checks_the_result_and_raises_the_seams_error() -> None:
    catalog = _catalog()

    @catalog.register("mine")
    def mine(width: int = 2, depth: int = 3) -> int:
        if width < 0:
            raise ValueError("width must be >= 0")
        return width * depth

    assert catalog.make("mine", {"width": 4, "depth": None}) == 12  # None: its own default
    with pytest.raises(PartError, match="takes no option 'height'; it accepts"):
        catalog.make("mine", {"height": 1})
    with pytest.raises(PartError, match="strategy 'mine': width must be >= 0"):
        catalog.make("mine", {"width": -1}, wrap=(ValueError,))
    with pytest.raises(ValueError, match="width must be >= 0") as raised:
        catalog.make("mine", {"width": -1})  # not wrapped: the factory's own error, traceback kept
    assert not isinstance(raised.value, PartError)
    with pytest.raises(PartError, match=r"returned str, not a builtins\.int"):
        catalog.make("builtins:str", {})
    with pytest.raises(ValueError, match="taken by a built-in"):
        catalog.register("tpe")(mine)
    assert "mine" in catalog and "tpe" in catalog and "nope" not in catalog
