"""The peers a confirm stage retrains: which families, and at what width.

A peer (:mod:`nas.model.peers`) joins the confirm stage as a baseline does: retrained with the
same seeds, chosen on validation, read once on test. It is not trained in the search (it is not
a layout the search could propose). By default every built-in family that fits the backbone
joins; in a study with a parameter or FLOP budget each is scaled to the widest width within it,
as the equal-cost baselines are, so every peer is within the budget by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from nas.core._plugins import BUILTINS
from nas.explore._budgets import widest
from nas.model.peers._base import PeerError, make_peer, peer_layout
from nas.study._outcome.confirm import Finalist
from nas.study._roles import peer_role
from nas.training._problem import Problem

__all__ = ["parse_peers", "peer_finalists"]

_log = logging.getLogger(__name__)


def parse_peers(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``--confirm-peers``: None (every built-in that fits), ``none`` (no peer), or names.

    Example:
        >>> parse_peers("mtan, mmoe"), parse_peers("none"), parse_peers(None)
        (('mtan', 'mmoe'), (), None)

    Raises:
        PeerError: a name given twice, or an empty list.
    """
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if names == ["none"]:
        return ()
    if not names or not all(isinstance(n, str) and n for n in names):
        raise PeerError(f"--confirm-peers {value!r}: give peer names, comma-separated, or none")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PeerError(f"--confirm-peers names {twice[0]!r} twice")
    return tuple(names)


def peer_finalists(
    names: Sequence[str] | None,
    problem: Problem,
    tasks: Sequence[str],
    budgets: Mapping[str, float],
) -> list[Finalist]:
    """The peers ``names`` (None: every built-in that fits) for ``problem``'s backbone.

    ``budgets``: the study's resolved budgets; each peer is scaled to the widest width within
    a parameter or FLOP budget. A latency budget is not the cost model's, so no peer joins a
    study that has one (as no equal-cost baseline does).

    Raises:
        PeerError: a peer named here that is unknown, does not fit the backbone, or cannot be
            scaled to the budget (a default peer that cannot is left out with a note).
    """
    explicit = names is not None
    wanted = list(BUILTINS["peer"]) if names is None else list(names)
    shape, depth = tuple(problem.benchmark.input_shape), problem.backbone.depth
    if wanted and "max_latency" in budgets:
        _log.info("note: no peers: a latency budget is not the cost model's")
        return []
    out = []
    for spec in wanted:
        why = make_peer(spec).fits(problem.backbone, shape)
        if why is not None:
            if explicit:
                raise PeerError(f"peer {spec!r} does not fit this backbone: {why}")
            _log.info(f"note: peer {spec} left out: {why}")
            continue
        layout = peer_layout(spec, tasks, depth)
        if {"max_params", "max_flops"} & set(budgets):
            try:
                scaled = widest(layout, problem.cost, budgets)
            except ValueError as err:  # a backbone without scaled(width), a pretrained one
                scaled, why = None, str(err)
            else:
                why = "even its thinnest network is over the budget"
            if scaled is None:
                if explicit:
                    raise PeerError(f"peer {spec!r} cannot join this budgeted study: {why}")
                _log.info(f"note: peer {spec} left out: {why}")
                continue
            layout = scaled
        out.append(Finalist(peer_role(spec), layout, "equal", None, None))
    return out
