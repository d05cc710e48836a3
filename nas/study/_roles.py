"""What a candidate of a confirm stage or a table is: a role, and how each role reads.

A new kind of candidate (an equal-cost baseline, a network of another family) is one more name
in :data:`Role` and one more line in :data:`ROLES`; reports and figures read both from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["ROLES", "Role", "RoleInfo", "role_of"]

Role = Literal["independent", "hard_sharing", "candidate"]


@dataclass(frozen=True)
class RoleInfo:
    """How a role reads in reports and figures.

    Attributes:
        name: short, for labels ("hard sharing").
        words: in a sentence ("the independent networks").
        colour: a matplotlib colour for its marks.
        baseline: a fixed reference the search did not choose (it may still be the answer).
    """

    name: str
    words: str
    colour: str
    baseline: bool


ROLES: dict[Role, RoleInfo] = {
    "independent": RoleInfo("independent", "the independent networks", "0.45", True),
    "hard_sharing": RoleInfo("hard sharing", "hard sharing", "C1", True),
    "candidate": RoleInfo("searched", "a searched layout", "C3", False),
}
assert set(ROLES) == set(get_args(Role)), "every role reads somehow"


def role_of(value: str) -> Role:
    """``value`` as a :data:`Role`.

    Raises:
        ValueError: a role this version does not know (a study stored by a newer one).
    """
    if value not in ROLES:
        raise ValueError(f"unknown role {value!r}: upgrade mtl-nas to read this study")
    return value
