"""Train and evaluate one multi-task network; model-agnostic, and blind to Optuna.

The trainer reads its splits through :mod:`nas.data._source` (resident tensors indexed on the
device, or a Dataset streamed through a DataLoader: the same batches either way), uses bf16
autocast on CUDA where supported (fp16 with loss scaling otherwise), and reports each epoch's
validation metrics through a callback, which may stop training by raising.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from nas.core._errors import UserError
from nas.data._benchmark import Split
from nas.data._metrics import TaskMeter
from nas.data._source import Resident, Source, sequential
from nas.data._tasks import Task
from nas.model.combine import METHODS, is_plugin, make_combiner

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
    loss_weighting: str = "equal"  # how task losses combine: a nas.model.combine method
    seed: int = 0  # initial weights and batch order
    amp: bool = True  # autocast on CUDA (bf16 where supported); always off on the CPU
    score_from: int = 1  # first epoch whose validation is scored and reported (the last always is)
    backbone_lr_mult: float = 1.0  # backbone (stem and blocks) lr = lr x this; heads get lr
    bn_mode: Literal["train", "frozen"] = "train"  # frozen: backbone BN keeps its statistics
    channels_last: bool = True  # NHWC memory layout for image networks on CUDA
    # At most this many batches per epoch (each epoch a fresh shuffle); None: the whole split.
    # For data sets so large that an epoch is a unit of time rather than of data.
    steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be at least 1, got {self.steps_per_epoch}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not self.backbone_lr_mult > 0:
            raise ValueError(f"backbone_lr_mult must be positive, got {self.backbone_lr_mult}")
        if self.bn_mode not in ("train", "frozen"):
            raise ValueError(f"bn_mode must be 'train' or 'frozen', got {self.bn_mode!r}")
        if self.loss_weighting not in METHODS and not is_plugin(self.loss_weighting):
            raise ValueError(
                f"loss_weighting must be one of {list(METHODS)} or package.module:Name, "
                f"got {self.loss_weighting!r}"
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


def autocast_for(device: torch.device, enabled: bool) -> torch.autocast:
    """bf16 autocast on CUDA (fp16 where bf16 is missing); a disabled context elsewhere."""
    if device.type != "cuda" or not enabled:
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def as_source(data: Split | Source) -> Source:
    """``data`` as a :class:`Source`; a resident split is read where its tensors are."""
    return data if isinstance(data, Source) else Resident(data, data.x.device)


@torch.no_grad()
def evaluate(
    net: nn.Module,
    split: Split | Source,
    tasks: Sequence[Task],
    batch_size: int = 256,
    amp: bool = True,
) -> Metrics:
    """Every metric of every task over the whole split (read onto the network's device)."""
    source = as_source(split)
    was_training = net.training
    net.eval()
    meters = {t.name: TaskMeter(t) for t in tasks}
    with autocast_for(source.device, amp):
        plan = sequential(len(source), batch_size, source.plan_device)
        for _, x, targets in source.batches(plan):
            out = net(x)
            for t in tasks:
                meters[t.name].update(out[t.name], targets[t.name])
    net.train(was_training)
    return {name: m.compute() for name, m in meters.items()}


def _backbone_parts(net: nn.Module) -> list[nn.Module]:
    """The modules a network calls its backbone (none for a network that does not say)."""
    parts: list[nn.Module] = getattr(net, "backbone_modules", list)()
    return parts


def _backbone_bns(net: nn.Module) -> list[nn.Module]:
    parts = _backbone_parts(net)
    norm = nn.modules.batchnorm._BatchNorm
    return [m for part in parts for m in part.modules() if isinstance(m, norm)]


def param_groups(
    net: nn.Module, config: TrainConfig, extra: Iterable[nn.Parameter]
) -> list[dict[str, Any]]:
    """Backbone parameters at ``lr x backbone_lr_mult``; heads and ``extra`` at ``lr``.

    With frozen batch norm the backbone's norm scales and shifts stay as stored, like the
    statistics, so they are left out.
    """
    frozen: set[int] = set()
    if config.bn_mode == "frozen":
        frozen = {id(p) for bn in _backbone_bns(net) for p in bn.parameters()}
    parts = _backbone_parts(net)
    backbone = {id(p) for part in parts for p in part.parameters()}
    trained = [p for p in net.parameters() if id(p) not in frozen]
    groups = [
        {
            "params": [p for p in trained if id(p) in backbone],
            "lr": config.lr * config.backbone_lr_mult,
        },
        {"params": [p for p in trained if id(p) not in backbone] + list(extra), "lr": config.lr},
    ]
    return [g for g in groups if g["params"]]


def set_train_mode(net: nn.Module, config: TrainConfig) -> None:
    """Train mode, with the backbone's batch norms in eval mode when ``bn_mode`` is frozen."""
    net.train()
    if config.bn_mode == "frozen":
        for bn in _backbone_bns(net):
            bn.eval()  # normalise with the stored (e.g. ImageNet) statistics, never update them


def optimizer_for(
    net: nn.Module, config: TrainConfig, extra: Iterable[nn.Parameter], steps_per_epoch: int
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.OneCycleLR]:
    """AdamW over :func:`param_groups`, on a one-cycle schedule over the whole run."""
    groups = param_groups(net, config, extra)
    opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=[g["lr"] for g in groups],
        total_steps=config.epochs * steps_per_epoch,
        pct_start=0.15,
    )
    return opt, sched


def cuda_setup(
    net: nn.Module, device: torch.device, images: bool, config: TrainConfig
) -> tuple[torch.amp.GradScaler, bool]:
    """Loss scaling for fp16 autocast (GPUs without bf16), and whether to train channels-last.

    NHWC lets cuDNN use tensor cores without transposes; on the CPU it is rarely faster. The
    network is converted here; :func:`batches` converts the inputs.
    """
    nhwc = config.channels_last and device.type == "cuda" and images
    if nhwc:
        net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    fp16 = device.type == "cuda" and config.amp and not torch.cuda.is_bf16_supported()
    return torch.amp.GradScaler("cuda", enabled=fp16), nhwc


def batches(
    source: Source, order: torch.Tensor, batch_size: int, nhwc: bool, epoch: int, seed: int
) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """``(inputs, targets)`` of each batch of ``order``, channels-last when ``nhwc``.

    Augmented as the source does for ``epoch`` and ``seed``.
    """
    plan = (order[start : start + batch_size] for start in range(0, len(order), batch_size))
    for _, x, targets in source.batches(plan, epoch=epoch, seed=seed):
        yield x.contiguous(memory_format=torch.channels_last) if nhwc else x, targets


def train(
    net: nn.Module,
    train_split: Split | Source,
    val_split: Split | Source,
    tasks: Sequence[Task],
    config: TrainConfig,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train ``net`` in place on ``train_split``; evaluate on ``val_split`` after every epoch.

    Both splits are read onto the network's device (a resident Split must already be there).
    Sample ``i`` of epoch ``e`` is augmented (where the source augments) from the generator of
    ``(config.seed, e, i)``, so a rerun or resume sees the same batches. ``on_epoch`` gets the
    result so far after each epoch (``epochs`` counts from 1); it may raise to stop training
    (e.g. to prune).
    Epochs before ``config.score_from`` are not scored; without ``on_epoch`` only the last is.

    Raises:
        DivergedError: the loss became NaN or infinite; the message names the epoch.
    """
    train_src, val_src = as_source(train_split), as_source(val_split)
    device = train_src.device
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    names = [t.name for t in tasks]
    combiner = make_combiner(config.loss_weighting, names).to(device)
    steps_per_epoch = math.ceil(len(train_src) / config.batch_size)
    if config.steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, config.steps_per_epoch)
    opt, sched = optimizer_for(net, config, combiner.trained_parameters(), steps_per_epoch)
    own = {id(p) for p in combiner.trained_parameters()}
    params = [p for g in opt.param_groups for p in g["params"] if id(p) not in own]
    scaler, nhwc = cuda_setup(net, device, len(train_src.input_shape) == 3, config)
    train_s = eval_s = 0.0
    metrics: Metrics = {}
    set_train_mode(net, config)
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(train_src), generator=gen)[: steps_per_epoch * config.batch_size]
        order = order.to(train_src.plan_device)
        total = torch.zeros((), device=device)
        per_task = torch.zeros(len(names), device=device)
        for x, targets in batches(train_src, order, config.batch_size, nhwc, epoch, config.seed):
            with autocast_for(device, config.amp):
                out = net(x)
            losses = {t.name: t.compute_loss(out[t.name], targets[t.name]) for t in tasks}
            opt.zero_grad(set_to_none=True)
            loss = combiner.backward(losses, params, scaler)
            scaler.step(opt)
            scaler.update()
            sched.step()
            total += loss
            per_task += torch.stack([losses[n] for n in names]).detach().float()
        # One host sync per epoch: checking every step would stall the GPU pipeline.
        mean_loss = float(total) / steps_per_epoch
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - start
        if not math.isfinite(mean_loss):
            raise DivergedError(f"training loss became {mean_loss} in epoch {epoch}")
        combiner.end_epoch(dict(zip(names, (per_task / steps_per_epoch).tolist(), strict=True)))
        if epoch < config.epochs and (on_epoch is None or epoch < config.score_from):
            continue  # nobody reads this epoch's score: spare the validation pass
        start = time.perf_counter()
        metrics = evaluate(net, val_src, tasks, amp=config.amp)
        set_train_mode(net, config)  # evaluate() restores plain train mode
        eval_s += time.perf_counter() - start
        if on_epoch is not None:
            on_epoch(TrainResult(metrics, epoch, train_s, eval_s))
    return TrainResult(metrics, config.epochs, train_s, eval_s)
