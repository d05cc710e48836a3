"""Train and evaluate one multi-task network; model-agnostic, and blind to Optuna.

The trainer keeps the whole benchmark resident on the device (no per-step host copies), uses
bf16 autocast on CUDA where supported (fp16 with loss scaling otherwise), and reports each
epoch's validation metrics through a callback, which may stop training by raising.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from nas.benchmark import Split
from nas.errors import UserError
from nas.metrics import TaskMeter
from nas.tasks import Task

__all__ = [
    "DeviceError",
    "DivergedError",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "pick_device",
    "train",
]

Metrics = dict[str, dict[str, float]]


class DeviceError(UserError, ValueError):
    """A device that is not there."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """How one candidate is trained. Defaults suit the built-in benchmarks."""

    epochs: int = 8  # full passes over the training split
    batch_size: int = 64
    lr: float = 3e-3  # AdamW learning rate, cosine-decayed to zero over the run
    weight_decay: float = 1e-4
    loss_weighting: Literal["equal", "uncertainty"] = "equal"  # uncertainty: Kendall et al. 2018
    seed: int = 0  # initial weights and batch order
    amp: bool = True  # autocast on CUDA (bf16 where supported); always off on the CPU
    score_from: int = 1  # first epoch whose validation is scored and reported (the last always is)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.loss_weighting not in ("equal", "uncertainty"):
            raise ValueError(
                f"loss_weighting must be 'equal' or 'uncertainty', got {self.loss_weighting!r}"
            )


@dataclass(frozen=True)
class TrainResult:
    """Validation metrics after the last epoch run, and where the time went."""

    metrics: Metrics
    epochs: int
    train_seconds: float
    eval_seconds: float


EpochCallback = Callable[[TrainResult], None]


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` gives CUDA when available, else the CPU; ``cpu`` / ``cuda[:N]`` force one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} asked for, but no CUDA device is visible")
    return device


def _autocast(device: torch.device, enabled: bool) -> torch.autocast:
    if device.type != "cuda" or not enabled:
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@torch.no_grad()
def evaluate(
    net: nn.Module,
    split: Split,
    tasks: Sequence[Task],
    batch_size: int = 256,
    amp: bool = True,
) -> Metrics:
    """Every metric of every task over the whole split (already on the network's device)."""
    was_training = net.training
    net.eval()
    meters = {t.name: TaskMeter(t) for t in tasks}
    with _autocast(split.x.device, amp):
        for start in range(0, len(split), batch_size):
            out = net(split.x[start : start + batch_size])
            for t in tasks:
                meters[t.name].update(
                    out[t.name], split.targets[t.name][start : start + batch_size]
                )
    net.train(was_training)
    return {name: m.compute() for name, m in meters.items()}


class _Weighting(nn.Module):
    """Equal weights, or learned homoscedastic uncertainty (Kendall et al. 2018).

    Uncertainty weighting uses the common form sum_i exp(-s_i) L_i + s_i with s_i = log sigma_i^2.
    """

    def __init__(self, tasks: Sequence[str], mode: str) -> None:
        super().__init__()
        self.tasks, self.mode = list(tasks), mode
        self.log_vars = nn.Parameter(torch.zeros(len(tasks)), requires_grad=mode == "uncertainty")

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack([losses[t] for t in self.tasks])
        if self.mode == "equal":
            return stacked.sum()
        return (torch.exp(-self.log_vars) * stacked + self.log_vars).sum()


def train(
    net: nn.Module,
    train_split: Split,
    val_split: Split,
    tasks: Sequence[Task],
    config: TrainConfig,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train ``net`` in place on ``train_split``; evaluate on ``val_split`` after every epoch.

    Both splits must already be on the network's device. ``on_epoch`` gets the result so far
    after each epoch (``epochs`` counts from 1); it may raise to stop training (e.g. to prune).
    Epochs before ``config.score_from`` are not scored; without ``on_epoch`` only the last is.

    Raises:
        DivergedError: the loss became NaN or infinite; the message names the epoch.
    """
    device = train_split.x.device
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    weighting = _Weighting([t.name for t in tasks], config.loss_weighting).to(device)
    params = [*net.parameters(), *(p for p in weighting.parameters() if p.requires_grad)]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    fp16 = device.type == "cuda" and config.amp and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    train_s = eval_s = 0.0
    metrics: Metrics = {}
    net.train()
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(train_split), generator=gen).to(device)
        total = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            idx = order[i * config.batch_size : (i + 1) * config.batch_size]
            x = train_split.x[idx]
            with _autocast(device, config.amp):
                out = net(x)
            losses = {
                t.name: t.compute_loss(out[t.name], train_split.targets[t.name][idx]) for t in tasks
            }
            loss = weighting(losses)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            total += loss.detach()
        # One host sync per epoch: checking every step would stall the GPU pipeline.
        mean_loss = float(total) / steps_per_epoch
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - start
        if not math.isfinite(mean_loss):
            raise DivergedError(f"training loss became {mean_loss} in epoch {epoch}")
        if epoch < config.epochs and (on_epoch is None or epoch < config.score_from):
            continue  # nobody reads this epoch's score: spare the validation pass
        start = time.perf_counter()
        metrics = evaluate(net, val_split, tasks, amp=config.amp)
        eval_s += time.perf_counter() - start
        if on_epoch is not None:
            on_epoch(TrainResult(metrics, epoch, train_s, eval_s))
    return TrainResult(metrics, config.epochs, train_s, eval_s)
