"""One way every trial is recorded: search trials, confirm runs and table runs alike.

:func:`recording` wraps the work of one trial: it stores where the trial runs (worker, device)
before the work, why it failed when it fails (an interrupt's reason, or the exception's first
line), and its wall time however it ends. :func:`claim_missing` is how a trial that was not
enqueued (a worker started after a run failed) takes over a planned run nobody holds.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import optuna
import torch

from nas.errors import UserError
from nas.faults import interrupt_reason
from nas.study import record

__all__ = ["claim_missing", "cpu_model", "numerics", "recording", "worker_name"]


def worker_name() -> str:
    """``host:pid`` of this process, as stored with each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


_KERNEL_LIMITS = (
    "ONEDNN_MAX_CPU_ISA",
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
)


def numerics(device: torch.device | str) -> str:
    """What a training's floating-point results depend on besides its seed, in one line.

    The same seed trains bit-identical weights only where this is the same: the kernels torch
    picks (and the order of their sums) depend on its build, the CPU's vector capability and
    the thread count, or on the GPU.

    Example:
        >>> numerics("cpu").startswith("torch ")
        True
    """
    device = torch.device(device)
    if device.type == "cuda":
        return f"torch {torch.__version__}, {torch.cuda.get_device_name(device)}"
    # Kernel limits set in the environment change the kernels as another CPU would.
    limits = "".join(f", {k}={os.environ[k]}" for k in _KERNEL_LIMITS if k in os.environ)
    return (
        f"torch {torch.__version__}, {cpu_model()}, "
        f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads{limits}"
    )


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
