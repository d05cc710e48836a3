"""Does the executor's saving show up in wall time? Forward+backward, side by side in one run.

For two 3-task layouts (an AdaShare layout in which each task skips about half of the skippable
blocks, and a branched tree) it times:

  ours       the network ``nas.build`` makes from the Layout;
  hand       a hand-written nn.Module running exactly the same unique blocks;
  reference  the reference AdaShare execution style: every block run once per task, the output
             mixed with the shortcut by the task's 0/1 policy, so skipping saves nothing.

All three share the same block modules, and their outputs are checked equal before timing.
Timings are interleaved round-robin and the median over ``--repeats`` rounds is used; the
printed ratios are what matters (absolute times on shared machines mean little).

    python bench/executor.py [--device cpu|cuda|all] [--repeats 30] [--batch 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from nas import ConvBackbone, HeadSpec, Layout, build, cost

TASKS = ("t0", "t1", "t2")
BACKBONE = ConvBackbone(3, (32, 32, 64, 64, 128, 128, 128, 128), (1, 1, 2, 1, 2, 1, 1, 1))
HEADS = {"t0": HeadSpec("pooled", 10), "t1": HeadSpec("pooled", 10), "t2": HeadSpec("pooled", 1)}
N = None
# Rows are depths, columns tasks t0 t1 t2. Depth 0 is always run (AdaShare's stem); after it
# each task skips 3 of the 7 remaining blocks.
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

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.b, self.heads = net.blocks, net.heads

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b = self.b
        a = b["b0_0"](x)  # all tasks
        ab = b["b1_0"](a)  # t0, t1; t2 skips depth 1 (identity)
        t0 = b["s2"](ab)  # t0 skips the strided depth 2: shortcut only
        t1 = b["b2_0"](ab)
        t2 = b["b2_0"](a)
        t0, t2 = b["b3_0"](t0), b["b3_0"](t2)  # t1 skips depth 3
        t0, t1, t2 = b["s4"](t0), b["b4_0"](t1), b["s4"](t2)
        t0, t2 = b["b5_0"](t0), b["b5_0"](t2)
        t1, t2 = b["b6_0"](t1), b["b6_0"](t2)
        t0 = b["b7_0"](t0)
        h = self.heads
        return {"t0": h[0](t0), "t1": h[1](t1), "t2": h[2](t2)}


class HandBranched(nn.Module):
    """BRANCHED written out by hand: a trunk, a two-way split, then three branches."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.b, self.heads = net.blocks, net.heads

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b = self.b
        h = x
        for d in range(4):
            h = b[f"b{d}_0"](h)
        ab, c = b["b5_0"](b["b4_0"](h)), b["b5_1"](b["b4_1"](h))
        t0, t1, t2 = b["b7_0"](b["b6_0"](ab)), b["b7_1"](b["b6_1"](ab)), b["b7_2"](b["b6_2"](c))
        return {"t0": self.heads[0](t0), "t1": self.heads[1](t1), "t2": self.heads[2](t2)}


class ReferenceStyle(nn.Module):
    """Every block once per task, mixed by a 0/1 policy: ``p * block(h) + (1 - p) * skip(h)``."""

    def __init__(self, net: nn.Module, layout: Layout) -> None:
        super().__init__()
        self.b, self.heads, self.layout = net.blocks, net.heads, layout
        policy = [[0.0 if c is None else 1.0 for c in layout.path(t)] for t in layout.tasks]
        self.register_buffer("policy", torch.tensor(policy))
        self.skips = [BACKBONE.skip(d) or nn.Identity() for d in range(layout.depth)]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
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
        loss.backward()  # type: ignore[union-attr]
        if device.type == "cuda":
            torch.cuda.synchronize()
        took = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        return took

    return step


def measure(
    layout: Layout, hand: type[nn.Module], device: torch.device, args: argparse.Namespace
) -> None:
    torch.manual_seed(0)
    net = build(layout, BACKBONE, HEADS, (3, args.size, args.size)).to(device)
    models = {"ours": net, "hand": hand(net), "reference": ReferenceStyle(net, layout).to(device)}
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
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
    for r in range(args.repeats):
        for name in names[r % 3 :] + names[: r % 3]:  # rotate the order every round
            times[name].append(steps[name]())
    med = {name: statistics.median(ts) for name, ts in times.items()}
    ours_exec = cost(layout, BACKBONE, HEADS, (3, args.size, args.size)).block_executions
    ref_exec = layout.num_tasks * layout.depth
    exec_ratio = ref_exec / ours_exec
    speedup = med["reference"] / med["ours"]
    print(
        f"[{device.type}] {args.label}: ours/hand-written = {med['ours'] / med['hand']:.3f}"
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
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds per model")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=32, help="image height and width")
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            parser.error("--device cuda: no CUDA device is visible")
        devices.remove("cuda")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch},"
        f" {args.size}x{args.size} inputs, {args.repeats} rounds"
    )
    for dev in devices:
        for label, layout, hand in (
            ("adashare half-skip", HALF_SKIP, HandHalfSkip),
            ("branched", BRANCHED, HandBranched),
        ):
            args.label = label
            measure(layout, hand, torch.device(dev), args)


if __name__ == "__main__":
    main()
