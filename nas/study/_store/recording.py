"""One way every trial is recorded: search trials, confirm runs and table runs alike.

:func:`recording` wraps the work of one trial: it stores where the trial runs (worker, device)
before the work, why it failed when it fails (an interrupt's reason, or the exception's first
line), and its wall time however it ends. :func:`claim_missing` is how a trial that was not
enqueued (a worker started after a run failed) takes over a planned run nobody holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import optuna
import torch

from nas.core._errors import UserError
from nas.core._faults import interrupt_reason
from nas.runtime._machine import numerics, worker_name
from nas.study._store import record

__all__ = ["claim_missing", "recording"]


@contextmanager
def recording(trial: optuna.trial.BaseTrial, device: torch.device | str) -> Iterator[None]:
    """Record the trial's worker and device, why it failed if it does, and its wall time.

    A pruned trial is not a failure: its reason is stored by whoever pruned it. An interrupt
    (Ctrl-C, SIGTERM) stores its reason and is raised again, as is every other exception.
    """
    start = time.perf_counter()
    try:
        # Inside the try: an interrupt arriving during these writes still stores its reason.
        record.write(trial, device=str(device), worker=worker_name(), numerics=numerics(device))
        yield
    except optuna.TrialPruned:
        raise
    except KeyboardInterrupt as err:
        record.write(trial, fail_reason=interrupt_reason(err))
        raise
    except Exception as err:  # recorded, then Optuna marks the trial FAILED
        record.write(trial, fail_reason=f"{type(err).__name__}: {err}".splitlines()[0][:500])
        if isinstance(err, torch.OutOfMemoryError):
            torch.cuda.empty_cache()  # the next trial of this process starts with free memory
        raise
    finally:
        record.write(trial, wall_seconds=time.perf_counter() - start)


def claim_missing(
    trial: optuna.trial.BaseTrial,
    key: str,
    find_missing: Callable[[], list[dict[str, Any]]],
    what: str,
) -> Mapping[str, Any]:
    """The planned run this trial runs: its own when enqueued, else the first missing one.

    ``key`` is an attribute every enqueued run has; a trial without it was started by a worker
    after a run failed on the way, and takes over the first run ``find_missing()`` lists
    (stored on the trial).

    Raises:
        UserError: the trial was not enqueued and no run is missing.
    """
    if key in trial.user_attrs:
        return trial.user_attrs
    missing = find_missing()
    if not missing:
        raise UserError(f"no {what} is missing")
    for name, value in missing[0].items():
        trial.set_user_attr(name, value)
    return missing[0]
