"""What each combination method costs per training step, against equal weights, side by side.

A training step of the ``scenes`` benchmark's network (5 tasks) for two layouts — hard sharing
(one trunk: every aggregation works on all its parameters) and a branched tree — under each
method: forward, the method's backward (one pass for a weighting; one per task plus the
aggregator for an aggregation), and the optimizer step. Steps are interleaved round-robin over
the methods and the median over ``--repeats`` rounds is used; the printed ratios to ``equal``
are what matters (absolute times on shared machines mean little).

    python bench/combine.py [--device cpu|cuda|all] [--repeats N] [--methods equal,upgrad,...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from typing import Any

import torch

from nas.core import Layout
from nas.explore import SearchConfig
from nas.model.combine import METHODS, make_combiner
from nas.study import prepare
from nas.training import TrainConfig
from nas.training._train import optimizer_for

DEFAULT = "equal,uncertainty,dwa,gradnorm,upgrad,mgda,pcgrad,cagrad,imtl_g,aligned_mtl"


def _layouts(tasks: tuple[str, ...], depth: int) -> dict[str, Layout]:
    tree = [[0] * len(tasks) if d < depth // 2 else list(range(len(tasks))) for d in range(depth)]
    return {
        "hard sharing": Layout.hard_sharing(tasks, depth),
        "split at half depth": Layout.from_groups(tasks, tree),
    }


def _step(
    net: Any,
    combiner: Any,
    opt: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    x: torch.Tensor,
    targets: dict[str, torch.Tensor],
    tasks: Any,
) -> None:
    out = net(x)
    losses = {t.name: t.compute_loss(out[t.name], targets[t.name]) for t in tasks}
    opt.zero_grad(set_to_none=True)
    combiner.backward(losses, params, torch.amp.GradScaler(x.device.type, enabled=False))
    opt.step()


def _bench(device: torch.device, methods: list[str], repeats: int, batch: int) -> None:
    problem, space = prepare(SearchConfig(benchmark="scenes"), device)
    _, x, targets = next(problem.train.batches([torch.arange(batch)]))
    names = [t.name for t in problem.tasks]
    for label, layout in _layouts(tuple(space.tasks), space.depth).items():
        steps: dict[str, Any] = {}
        for method in methods:
            torch.manual_seed(0)
            net = problem.build(layout).to(device).train()
            combiner = make_combiner(method, names).to(device)
            opt, _ = optimizer_for(net, TrainConfig(), combiner.trained_parameters(), 10)
            params = [p for p in net.parameters() if p.requires_grad]
            step = partial(_step, net, combiner, opt, params, x, targets, problem.tasks)
            step()  # warm-up (and the aggregations' one-off grouping of parameters)
            steps[method] = step
        times: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(repeats):
            for method, step in steps.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times[method].append(time.perf_counter() - start)
        base = statistics.median(times["equal"])
        print(f"\n{device.type}, {label}, batch {batch}, median of {repeats} interleaved steps")
        for method in methods:
            med = statistics.median(times[method])
            print(f"  {method:12} {1e3 * med:8.1f} ms/step  {med / base:5.2f}x equal")


def main() -> None:
    """Parse the options and run the benchmark on each device asked for."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or all (default cpu)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--methods", default=DEFAULT, help=f"comma-separated, of {list(METHODS)}")
    args = p.parse_args()
    methods = [m.strip() for m in args.methods.split(",")]
    if "equal" not in methods:
        methods.insert(0, "equal")
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    for name in devices:
        if name == "cuda" and not torch.cuda.is_available():
            print("cuda: not available here; skipped")
            continue
        _bench(torch.device(name), methods, args.repeats, args.batch)


if __name__ == "__main__":
    main()
