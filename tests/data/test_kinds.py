"""Every registered task kind passes the kind contract; a new kind is one class and one line."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

import nas.data.kinds
from nas.data import Task, TaskError
from nas.data.kinds import kind_names, kind_of, register_kind
from nas.data.kinds._regression import Regression
from nas.testing import check_kind


@pytest.fixture(autouse=True)
def _registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Kinds registered by a test stay in it.
    monkeypatch.setattr(nas.data.kinds, "_KINDS", dict(nas.data.kinds._KINDS))


@pytest.mark.parametrize("name", kind_names())
def test_every_registered_kind_passes_the_contract(name: str) -> None:
    kind = kind_of(name)
    assert kind is not None
    check_kind(kind)


class Counts(Regression):
    """A plug-in kind: non-negative counts, scored by absolute error only."""

    name = "counts"
    metrics: ClassVar[dict[str, bool]] = {"abs_err": False, "rmse": False}

    def value_problem(self, y: torch.Tensor, out: int) -> str | None:
        problem = super().value_problem(y, out)
        return problem or ("holds negative counts" if (y < 0).any() else None)

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        return torch.randint(0, 9, (n, out), generator=gen).float()


def test_a_new_kind_is_one_class_and_one_registration() -> None:
    with pytest.raises(TaskError, match="field 'kind' is 'counts'"):
        Task("n", "counts")
    register_kind(Counts())
    check_kind(Counts())
    assert Task("n", "counts", 2).primary == "abs_err"
    with pytest.raises(ValueError, match="already registered"):
        register_kind(type("Other", (Regression,), {"name": "counts"})())


class Broken(Regression):
    """Counts an unlabelled (NaN) entry as a label: the contract says so."""

    name = "broken"

    def known(self, y: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(y, dtype=torch.bool)


def test_the_contract_names_what_a_broken_kind_gets_wrong() -> None:
    register_kind(Broken())
    with pytest.raises(AssertionError, match="an unlabelled marker counts as a label"):
        check_kind(Broken())
