"""The confirm stage's options: checked before a search, and stored with the study it ends.

``--confirm-top``, ``--confirm-seeds`` and ``--confirm-latency-repeats`` are refused before
a search that would end on them; top and seeds given to ``search`` are kept on the study, so a
search killed before its confirm stage is confirmed on resume as it was asked to be.
"""

from __future__ import annotations

import optuna

from nas.core.errors import UserError
from nas.study.store.joining import study_exists
from nas.study.store.record import CONFIRM_OPTIONS_KEY, CONFIRM_SUFFIX, StudyRecord

__all__ = ["ConfirmError", "check_confirm_options", "stored_confirm_options"]


class ConfirmError(UserError, RuntimeError):
    """Nothing to confirm, or options that differ from a confirm stage already started."""


def check_confirm_options(
    top: int | None,
    seeds: int | None,
    latency_repeats: int | None = None,
    prefix: str = "--confirm-",
) -> None:
    """Refuse a finalist count below 1, fewer than 2 seeds, or negative latency repeats.

    None is the default, accepted. Called before a search starts, so a bad option never
    costs a search. ``prefix``: how the flags are spelt (``--`` for ``mtlnas confirm``).

    Raises:
        ConfirmError: naming the option and its least value.
    """
    for flag, value, least, why in (
        (f"{prefix}top", top, 1, "at least one finalist besides the baselines"),
        (f"{prefix}seeds", seeds, 2, "a spread needs two seeds"),
        (f"{prefix}latency-repeats", latency_repeats, 0, "0 skips the latency figures"),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfirmError(f"{flag} must be an integer, got {value!r}")
        if value < least:
            raise ConfirmError(f"{flag} must be at least {least} ({why}), got {value}")


def stored_confirm_options(
    storage: optuna.storages.BaseStorage, study: optuna.Study, top: int | None, seeds: int | None
) -> tuple[int | None, int | None]:
    """``top`` and ``seeds`` as given, else as a search of ``study`` stored them; given are stored.

    So a search killed before its confirm stage is confirmed on resume as it was asked to be.
    Once the confirm stage is planned its plan rules: the options are returned as given, for
    :func:`~nas.study.outcome.stage.open_confirm` to compare with it, and nothing is written.
    """
    if study_exists(storage, study.study_name + CONFIRM_SUFFIX):
        return top, seeds
    record = StudyRecord(study)
    stored = dict(record.get(CONFIRM_OPTIONS_KEY) or {})
    given = {k: v for k, v in (("top", top), ("seeds", seeds)) if v is not None}
    if given and {**stored, **given} != stored:
        stored |= given
        record.set(CONFIRM_OPTIONS_KEY, stored)
    return stored.get("top"), stored.get("seeds")
