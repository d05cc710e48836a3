"""What a candidate of a confirm stage or a table is: a role, and how each role reads.

A new kind of candidate (an equal-cost baseline, a network of another family) is one more name
in :data:`Role` and one more line in :data:`ROLES`; reports and figures read both from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["BASELINES", "PEERS", "ROLES", "Role", "RoleInfo", "peer_role", "role_of"]

Role = Literal[
    "independent", "hard_sharing", "independent_scaled", "hard_sharing_scaled",
    "cross_stitch", "mtan", "mmoe", "peer", "candidate",
]  # fmt: skip


@dataclass(frozen=True)
class RoleInfo:
    """How a role reads in reports and figures.

    Attributes:
        name: short, for labels ("hard sharing").
        words: in a sentence ("the independent networks").
        colour: a matplotlib colour for its marks.
        baseline: a fixed reference the search did not choose (it may still be the answer).
        peer: a network of another family (:mod:`nas.model.peers`), a fixed reference too.
    """

    name: str
    words: str
    colour: str
    baseline: bool
    peer: bool = False


ROLES: dict[Role, RoleInfo] = {
    "independent": RoleInfo("independent", "the independent networks", "0.45", True),
    "hard_sharing": RoleInfo("hard sharing", "hard sharing", "C1", True),
    # The equal-cost baselines of a study with a budget: each at the widest width within it.
    "independent_scaled": RoleInfo(
        "independent, equal cost", "the independent networks scaled to the budget", "0.7", True
    ),
    "hard_sharing_scaled": RoleInfo(
        "hard sharing, equal cost", "hard sharing scaled to the budget", "C4", True
    ),
    # The other families, confirmed beside the searched answer (a user's own is a "peer").
    "cross_stitch": RoleInfo("cross-stitch", "the cross-stitch network", "C0", True, True),
    "mtan": RoleInfo("MTAN", "MTAN", "C2", True, True),
    "mmoe": RoleInfo("MMoE", "the mixture of experts (MMoE)", "C5", True, True),
    "peer": RoleInfo("peer", "a network of another family", "C6", True, True),
    "candidate": RoleInfo("searched", "a searched layout", "C3", False),
}
assert set(ROLES) == set(get_args(Role)), "every role reads somehow"
# The baselines a search trains (peers join the confirm stage only).
BASELINES: tuple[Role, ...] = tuple(r for r, i in ROLES.items() if i.baseline and not i.peer)
PEERS: tuple[Role, ...] = tuple(r for r, info in ROLES.items() if info.peer)


def peer_role(spec: str) -> Role:
    """The role of peer ``spec``: its family's own for a built-in, else ``peer``."""
    return role_of(spec) if spec in PEERS and spec != "peer" else "peer"


def role_of(value: str) -> Role:
    """``value`` as a :data:`Role`.

    Raises:
        ValueError: a role this version does not know (a study stored by a newer one).
    """
    if value not in ROLES:
        raise ValueError(f"unknown role {value!r}: upgrade mtl-nas to read this study")
    return value
