"""Does the executor's saving show up in wall time? Forward+backward, side by side in one run.

Two backbones of 8 blocks: the small residual conv stack (32x32 inputs) and ResNet-18 (128x128
inputs, torchvision's blocks, its stem run once and shared). For two 3-task layouts of each (an
AdaShare layout in which each task skips about half of the skippable blocks, and a branched
tree) it times:

  ours       the network ``nas.build`` makes from the Layout;
  hand       a hand-written nn.Module running exactly the same unique blocks;
  reference  the reference AdaShare execution style: every block run once per task, the output
             mixed with the shortcut by the task's 0/1 policy, so skipping saves nothing.

All three share the same block modules, and their outputs are checked equal before timing.
Timings are interleaved round-robin and the median over ``--repeats`` rounds is used; the
printed ratios are what matters (absolute times on shared machines mean little).

    python bench/executor.py [--case conv|resnet18|all] [--device cpu|cuda|all] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from nas import ConvBackbone, HeadSpec, Layout, build, cost
from nas.model import MultiTaskNetwork
from nas.model.backbones import Backbone, create_backbone

TASKS = ("t0", "t1", "t2")
# name -> (backbone, input side, default batch, default rounds); both have 8 blocks.
CASES: dict[str, tuple[Backbone, int, int, int]] = {
    "conv": (
        ConvBackbone(3, (32, 32, 64, 64, 128, 128, 128, 128), (1, 1, 2, 1, 2, 1, 1, 1)),
        32,
        32,
        30,
    ),
    "resnet18": (create_backbone("resnet18", (3, 128, 128)), 128, 8, 10),
}
HEADS = {"t0": HeadSpec("pooled", 10), "t1": HeadSpec("pooled", 10), "t2": HeadSpec("pooled", 1)}
N = None
# Rows are depths, columns tasks t0 t1 t2. Depth 0 is always run; after it each task skips 3 of
# the 7 remaining blocks (for ResNet-18 t0 skips the strided first blocks of stages 2-4).
HALF_SKIP = Layout(
    TASKS,
    (
        (0, 0, 0),
        (0, 0, N),
        (N, 0, 0),
        (0, N, 0),
        (N, 0, N),
        (0, N, 0),
        (N, 0, 0),
        (0, N, N),
    ),
)
# Shared trunk of 4 blocks, then {t0, t1} | {t2} for 2 blocks, then three branches.
BRANCHED = Layout(TASKS, ((0, 0, 0),) * 4 + ((0, 0, 1),) * 2 + ((0, 1, 2),) * 2)


class HandHalfSkip(nn.Module):
    """HALF_SKIP written out by hand: each line is one unique block call."""

    def __init__(self, net: MultiTaskNetwork) -> None:
        super().__init__()
        self.stem, self.b, self.heads = net.stem, net.blocks, net.heads

    def s(self, d: int, h: torch.Tensor) -> torch.Tensor:
        """A skip: the parameter-free shortcut where the block reshapes, else identity."""
        return self.b[f"s{d}"](h) if f"s{d}" in self.b else h

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b, s = self.b, self.s
        a = b["b0_0"](self.stem(x))  # all tasks
        ab, c = b["b1_0"](a), s(1, a)  # t0, t1; t2 skips depth 1
        t0, t1, t2 = s(2, ab), b["b2_0"](ab), b["b2_0"](c)
        t0, t1, t2 = b["b3_0"](t0), s(3, t1), b["b3_0"](t2)
        t0, t1, t2 = s(4, t0), b["b4_0"](t1), s(4, t2)
        t0, t1, t2 = b["b5_0"](t0), s(5, t1), b["b5_0"](t2)
        t0, t1, t2 = s(6, t0), b["b6_0"](t1), b["b6_0"](t2)
        t0, t1, t2 = b["b7_0"](t0), s(7, t1), s(7, t2)
        h = self.heads
        return {"t0": h[0](t0), "t1": h[1](t1), "t2": h[2](t2)}


class HandBranched(nn.Module):
    """BRANCHED written out by hand: a trunk, a two-way split, then three branches."""

    def __init__(self, net: MultiTaskNetwork) -> None:
        super().__init__()
        self.stem, self.b, self.heads = net.stem, net.blocks, net.heads

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b = self.b
        h = self.stem(x)
        for d in range(4):
            h = b[f"b{d}_0"](h)
        ab, c = b["b5_0"](b["b4_0"](h)), b["b5_1"](b["b4_1"](h))
        t0, t1, t2 = b["b7_0"](b["b6_0"](ab)), b["b7_1"](b["b6_1"](ab)), b["b7_2"](b["b6_2"](c))
        return {"t0": self.heads[0](t0), "t1": self.heads[1](t1), "t2": self.heads[2](t2)}


class ReferenceStyle(nn.Module):
    """Every block once per task, mixed by a 0/1 policy: ``p * block(h) + (1 - p) * skip(h)``."""

    policy: torch.Tensor

    def __init__(self, net: MultiTaskNetwork, layout: Layout, backbone: Backbone) -> None:
        super().__init__()
        self.stem, self.b, self.heads, self.layout = net.stem, net.blocks, net.heads, layout
        policy = [[0.0 if c is None else 1.0 for c in layout.path(t)] for t in layout.tasks]
        self.register_buffer("policy", torch.tensor(policy))
        self.skips = [backbone.skip(d) or nn.Identity() for d in range(layout.depth)]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        x = self.stem(x)  # the stem is shared in every style
        for t, task in enumerate(self.layout.tasks):
            h = x
            for d, c in enumerate(self.layout.path(task)):
                p = self.policy[t, d]
                h = p * self.b[f"b{d}_{c or 0}"](h) + (1 - p) * self.skips[d](h)
            out[task] = self.heads[t](h)
        return out


def fwd_bwd(model: nn.Module, x: torch.Tensor, device: torch.device) -> Callable[[], float]:
    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = sum(o.float().square().mean() for o in model(x).values())
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        took = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        return took

    return step


def measure(
    case: str,
    layout: Layout,
    hand: type[nn.Module],
    device: torch.device,
    args: argparse.Namespace,
) -> None:
    backbone, size, batch, repeats = CASES[case]
    batch, repeats = args.batch or batch, args.repeats or repeats
    torch.manual_seed(0)
    net = build(layout, backbone, HEADS, (3, size, size)).to(device)
    reference = ReferenceStyle(net, layout, backbone).to(device)
    models = {"ours": net, "hand": hand(net), "reference": reference}
    x = torch.randn(batch, 3, size, size, device=device)
    with torch.no_grad():
        net.eval()
        want = net(x)
        for name, model in models.items():
            for task, y in model(x).items():
                torch.testing.assert_close(y, want[task], msg=f"{name} differs on {task}")
        net.train()
    steps = {name: fwd_bwd(m, x, device) for name, m in models.items()}
    for step in steps.values():  # warm-up
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        for name in names[r % 3 :] + names[: r % 3]:  # rotate the order every round
            times[name].append(steps[name]())
    med = {name: statistics.median(ts) for name, ts in times.items()}
    ours_exec = cost(layout, backbone, HEADS, (3, size, size)).block_executions
    ref_exec = layout.num_tasks * layout.depth
    exec_ratio = ref_exec / ours_exec
    speedup = med["reference"] / med["ours"]
    print(
        f"[{device.type}] {case} {args.label} (batch {batch}, {size}x{size}, {repeats} rounds):"
        f" ours/hand-written = {med['ours'] / med['hand']:.3f}"
        f"  reference/ours = {speedup:.3f}  block executions reference/ours ="
        f" {ref_exec}/{ours_exec} = {exec_ratio:.3f}  (time ratio / execution ratio ="
        f" {speedup / exec_ratio:.3f})  median ms: ours {1e3 * med['ours']:.1f},"
        f" hand {1e3 * med['hand']:.1f}, reference {1e3 * med['reference']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda", "all"],
        default="all",
        help="where to time (all = CPU, and CUDA when present)",
    )
    parser.add_argument(
        "--case", choices=[*CASES, "all"], default="all", help="which backbone (default all)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed rounds per model (default 30 conv, 10 resnet18)",
    )
    parser.add_argument("--batch", type=int, default=None, help="default 32 conv, 8 resnet18")
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            parser.error("--device cuda: no CUDA device is visible")
        devices.remove("cuda")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    cases = list(CASES) if args.case == "all" else [args.case]
    for dev in devices:
        for case in cases:
            for label, layout, hand in (
                ("adashare half-skip", HALF_SKIP, HandHalfSkip),
                ("branched", BRANCHED, HandBranched),
            ):
                args.label = label
                measure(case, layout, hand, torch.device(dev), args)


if __name__ == "__main__":
    main()
