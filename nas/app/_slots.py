"""Device slots: several trial processes on this machine's devices, sharing one study.

``--devices cuda:0,cuda:1 --per-device 2`` runs the search in four processes, as a user would
start four ``mtlnas worker`` processes by hand: each child is ``mtlnas worker NAME`` (then
``mtlnas confirm NAME --runs-only`` for the confirm stage), pinned to its device and to its
share of the CPU cores, and this process shows one progress bar for all of them, read from the
study. The study's own machinery does the rest: the storage hands each queued trial to one
process, a killed child's trial is failed by its stale heartbeat and queued again, and every
child stops at the study's target. Children run in their own sessions, so a Ctrl-C or SIGTERM
reaches this process alone, which passes exactly one signal on to each child and waits for them:
their running trials are stored as interrupted (and queued again after SIGTERM), as in one
process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nas.core._errors import UserError
from nas.core._faults import is_terminated

__all__ = ["DEFAULT_PER_DEVICE", "SlotError", "resolve_slots", "run_slots", "slot_devices"]

# One trial per device until a measurement on a GPU says more pays (bench/gpu.py prints the
# aggregate trainings per hour at 1, 2 and 4 per device); on a CPU the processes share the cores,
# so more than one per device only splits them.
DEFAULT_PER_DEVICE = 1
RESTARTS = 3  # a slot whose process dies is started again this often, then the run stops
POLL = 1.0  # seconds between looks at the children and the study


class SlotError(UserError, ValueError):
    """A bad --devices or --per-device, or a slot that failed for good."""


def slot_devices(devices: str, per_device: int, cuda_count: int | None = None) -> list[str]:
    """The device of each slot: ``devices`` (``cpu``, ``all``, ``cuda:0,cuda:1``) x ``per_device``.

    ``all`` is every CUDA device of this machine, or the CPU when it has none. ``cuda_count``:
    the CUDA devices to check against (None: ask torch).

    Example:
        >>> slot_devices("cuda:0,cuda:1", 2, cuda_count=2)
        ['cuda:0', 'cuda:0', 'cuda:1', 'cuda:1']

    Raises:
        SlotError: a name that is not a device, a device named twice, a CUDA device this
            machine does not have, or a per-device count below 1.
    """
    if isinstance(per_device, bool) or not isinstance(per_device, int) or per_device < 1:
        raise SlotError(f"--per-device must be a whole number of at least 1, got {per_device!r}")
    if cuda_count is None:
        import torch

        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    names = [d.strip() for d in devices.split(",")]
    if names == ["all"]:
        names = [f"cuda:{i}" for i in range(cuda_count)] or ["cpu"]
    out: list[str] = []
    for name in names:
        device = "cuda:0" if name == "cuda" else name
        index = device.removeprefix("cuda:")
        if device != "cpu" and not (device.startswith("cuda:") and index.isdigit()):
            raise SlotError(
                f"--devices {devices!r}: {name!r} is not a device; give cpu, all, or "
                "cuda:N, comma-separated (e.g. cuda:0,cuda:1)"
            )
        if device != "cpu" and int(index) >= cuda_count:
            have = ", ".join(f"cuda:{i}" for i in range(cuda_count)) or "none"
            raise SlotError(
                f"--devices {devices!r}: this machine has {cuda_count} CUDA devices ({have}); "
                "give one of them, or cpu"
            )
        if device in out:
            raise SlotError(
                f"--devices {devices!r} names {device} twice; give --per-device K for K "
                "processes on one device"
            )
        out.append(device)
    return [d for d in out for _ in range(per_device)]


def resolve_slots(
    devices: str | None, per_device: int | None, device: str
) -> tuple[list[str], str]:
    """(the device of each child slot, this process's device) for the options as given.

    No ``devices``: no slots, ``device`` as given. One slot: no children, this process on it.

    Raises:
        SlotError: ``per_device`` without ``devices``, both ``device`` and ``devices``, or
            what :func:`slot_devices` refuses.
    """
    if devices is None:
        if per_device is not None:
            raise SlotError("--per-device K needs --devices (e.g. --devices cpu or all)")
        return [], device
    if device != "auto":
        raise SlotError("give --device (this process) or --devices (one process per slot)")
    slots = slot_devices(devices, DEFAULT_PER_DEVICE if per_device is None else per_device)
    return ([], slots[0]) if len(slots) == 1 else (slots, "cpu" if "cpu" in slots else slots[0])


@dataclass
class _Slot:
    label: str  # e.g. cuda:0#2
    device: str
    cpus: set[int] | None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last: str = ""  # its last line on stderr, for an error message
    done: bool = False
    readers: list[threading.Thread] = field(default_factory=list)


def _cpus(slots: int) -> list[set[int] | None]:
    # Each slot gets its own cores when there are enough (sched_getaffinity: the cores this
    # process may use, which a container or taskset may limit); otherwise none is pinned.
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return [None] * slots
    share = len(cores) // slots
    if share < 1:
        return [None] * slots
    return [set(cores[i * share : (i + 1) * share]) for i in range(slots)]


def run_slots(
    argv: Sequence[str],
    devices: Sequence[str],
    count: Callable[[], tuple[int, int]],
    what: str,
    progress: bool = True,
) -> None:
    """Run ``mtlnas ARGV --device D`` once per slot until every child has finished.

    ``argv``: the child's command line after ``mtlnas`` (command, study, storage, ...);
    ``count``: (done, total) of the work, read from the study for the progress bar.

    Raises:
        SlotError: a child refused its options (exit 2: the user's to fix) or died more than
            :data:`RESTARTS` times; the other children are stopped first.
        KeyboardInterrupt: Ctrl-C or SIGTERM, after every child has stopped.
    """
    from tqdm import tqdm

    cpus = _cpus(len(devices))
    seen: dict[str, int] = {}
    slots = [
        _Slot(f"{d}#{sum(e == d for e in devices[:i]) + 1}", d, cpus[i])
        for i, d in enumerate(devices)
    ]
    lock = threading.Lock()
    bar = tqdm(total=count()[1], desc=f"{what}, {len(slots)} processes", unit="run",
               disable=not progress)  # fmt: skip

    def relay(slot: _Slot, stream: object) -> None:
        # A child's warnings, once for all slots (every child warns of the same weak task).
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode(errors="replace").rstrip()
            if not line:
                continue
            slot.last = line
            with lock:
                seen[line] = seen.get(line, 0) + 1
                if seen[line] == 1 and not line.startswith(("mtlnas ", "Traceback")):
                    bar.write(f"[{slot.label}] {line}", file=sys.stderr)

    def start(slot: _Slot) -> None:
        env = dict(os.environ)
        threads = len(slot.cpus) if slot.cpus else 1
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        env.setdefault("MTLNAS_WORKERS", "0")  # the other slots use the spare cores
        command = [sys.executable, "-m", "nas.app.cli", *argv, "--device", slot.device, "--quiet"]
        slot.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        if slot.cpus:
            os.sched_setaffinity(slot.process.pid, slot.cpus)
        reader = threading.Thread(target=relay, args=(slot, slot.process.stderr), daemon=True)
        reader.start()
        slot.readers.append(reader)

    def stop(sig: int) -> None:
        live = [s.process for s in slots if s.process is not None and s.process.poll() is None]
        for p in live:
            p.send_signal(sig)
        deadline = time.monotonic() + 120  # a trial's cleanup writes a few rows
        for p in live:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    try:
        for slot in slots:
            start(slot)
        while not all(s.done for s in slots):
            time.sleep(POLL)
            done, total = count()
            bar.total, bar.n = max(total, done), done
            bar.refresh()
            for slot in slots:
                _check(slot, start, stop)
        bar.n = count()[0]
        bar.refresh()
    except KeyboardInterrupt as err:
        stop(signal.SIGTERM if is_terminated(err) else signal.SIGINT)
        raise
    finally:
        bar.close()


def _check(slot: _Slot, start: Callable[[_Slot], None], stop: Callable[[int], None]) -> None:
    """Note a child that ended: done, the user's error, or a death to restart from."""
    if slot.done or slot.process is None or (rc := slot.process.poll()) is None:
        return
    for reader in slot.readers:
        reader.join(timeout=5)  # its last words are read before they are judged
    if rc == 0:
        slot.done = True
        return
    if rc == 2:  # a one-line error: the user's to fix, the same in every slot
        stop(signal.SIGTERM)
        raise SlotError(slot.last.split(": error: ", 1)[-1] or f"slot {slot.label} exited 2")
    how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
    if slot.restarts >= RESTARTS:
        stop(signal.SIGTERM)
        raise SlotError(
            f"the process of slot {slot.label} stopped {slot.restarts + 1} times ({how}; "
            f"last: {slot.last or 'nothing'}); the study is kept: resume it to go on"
        )
    slot.restarts += 1
    print(
        f"slot {slot.label}: its process stopped ({how}); starting it again (its running "
        "trial is failed by its heartbeat and trained again)",
        file=sys.stderr,
    )
    start(slot)
