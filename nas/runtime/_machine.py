"""The machine a network runs on, in the words a trial or a latency figure stores."""

from __future__ import annotations

import functools
import os
import platform
import socket

import torch

__all__ = ["cpu_model", "numerics", "worker_name"]


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
