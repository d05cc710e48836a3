"""Every search strategy against the ground truth of a table: regret at equal compute.

For each table (``mtlnas tabulate``) and each strategy, runs many repetitions of a search whose
trials are answered from the table (one stored seed drawn per query, as ``--evaluator
table:FILE`` does, with the same samplers, pruner and search space as ``mtlnas search``), and
scores the layout each returns against the truth: the table's mean **test** Δ_MTL over its seeds.

- regret: the table's best mean test Δ_MTL minus the returned layout's (points; 0 = the best);
- top-1 / top-5: how often the returned layout is the best / among the five best;
- compute: full trainings spent (a pruned trial counts the share of epochs it ran; the search's
  two queued baselines count; a layout proposed again is answered from the first, for free).

Strategies: random, ``tpe`` (TPE with its own random start-up, the default), ``spread`` (TPE
with ``start=spread``), TPE with the percentile pruner, GP, the pipelines (``tpe+confirm``: TPE
search, then the confirm stage: the two baselines and the search's best two layouts retrained
with fresh seeds, the winner the one of best mean validation Δ_MTL; ``spread+confirm`` and
``paths+confirm``, the same after a ``spread`` or ``paths`` search), and ``race``, a noise-aware
strategy: TPE proposes, and every third training goes to the contender with the best mean so
far, on a fresh seed, until it has as many seeds as the table; it returns the best mean among
layouts scored at least twice (SMAC's intensification, simplified); ``affinity+tpe``,
``affinity+structure`` and ``affinity+paths`` (``--warm-start affinity``: the affinity method's
training, counted as one, and its three trees queued first; branched tables only), and
``affinity+paths+confirm``, the confirm stage after the last; ``halving`` /
``tpe+halving``, successive halving with training seeds as the resource (see :func:`halving`);
``structure``, the Bayesian model of Δ_MTL over which tasks share which blocks
(``nas/explore/strategies/_structure.py``), with the alternatives measured when its design was
chosen (:data:`VARIANTS`), each also as ``NAME+mean``: the same search answered by the model's best
posterior mean among the layouts tried instead of the best score; ``paths``, each task's term of
Δ_MTL modelled from its own path (``_pertask.py``), with the per-task variants
measured when its design was chosen (``pertask*`` in :data:`VARIANTS`).

    python -m bench.strategies tables/digits-branched.table.json [more tables]
        [--reps 100] [--budgets 10,20,30,40] [--strategies random,tpe,gp,...] [--figure PNG]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from nas.core import Layout
from nas.data import delta_mtl, task_deltas
from nas.explore import Entry, Run, Table, load_table
from nas.explore.strategies import make_strategy
from nas.explore.strategies._pertask import PathModel
from nas.explore.strategies._surrogate import Design, fit
from search_spaces import SearchSpace, make_space

optuna.logging.set_verbosity(optuna.logging.ERROR)

CONFIRM_TOP, CONFIRM_SEEDS = 2, 5  # the confirm stage's defaults
# The structure strategy's alternatives measured when its design was chosen (docs/tables.md).
# Each runs as NAME (answered by its best score) and NAME+mean (by the model's posterior mean).
VARIANTS: dict[str, dict[str, object]] = {
    "structure": {},  # the chosen design: 8 random start-up layouts, then the best mean
    "structure-start4": {"n_startup_trials": 4},
    "structure-start12": {"n_startup_trials": 12},
    "thompson": {"n_startup_trials": 0, "acquisition": "thompson"},
    "thompson-start8": {"n_startup_trials": 8, "acquisition": "thompson"},
    # Each task's term from its path (nas.explore.strategies._pertask): 6 trainings, then its mean.
    "pertask": {"model": "per-task", "n_startup_trials": 6},
    "pertask-d8": {"model": "per-task", "n_startup_trials": 6, "draws": 8},
    "pertask-d32": {"model": "per-task", "n_startup_trials": 6, "draws": 32},
    "pertask-d4": {"model": "per-task", "n_startup_trials": 6, "draws": 4},
    "pertask-d16": {"model": "per-task", "n_startup_trials": 6, "draws": 16},
}

# TPE by its start-up: ``tpe`` TPE's own random draws (the default), ``spread`` along the level
# of sharing (``--strategy-option start=spread``).
STARTS: dict[str, dict[str, object]] = {"tpe": {"start": "random"}, "spread": {"start": "spread"}}


@dataclass
class Replay:
    """One repetition's view of a table: the search's one independent run and seeded draws."""

    table: Table
    rng: random.Random
    base: Run = field(init=False)
    spent: float = 0.0
    log: list[tuple[float, Layout, float]] = field(default_factory=list)  # (spent, layout, Δ)
    seen_terms: dict[Layout, dict[str, float]] = field(default_factory=dict)  # first training's

    def __post_init__(self) -> None:
        self.base = self.rng.choice(self.table.independent.runs)
        self.outside = outside_space(self.table)
        tasks = self.table.meta["tasks"]
        self.primary = {t["name"]: t["primary"] for t in tasks}
        self.hib = {t["name"]: t["higher_is_better"] for t in tasks}

    def delta(self, metrics: dict[str, dict[str, float]]) -> float:
        """Validation Δ_MTL against the search's independent run, as a study scores a trial."""
        prim = {t: metrics[t][k] for t, k in self.primary.items()}
        return delta_mtl(prim, {t: self.base.val[t][k] for t, k in self.primary.items()}, self.hib)

    def terms(self, metrics: dict[str, dict[str, float]]) -> dict[str, float]:
        """Each task's term of :meth:`delta`, as a study stores it (``task_deltas``)."""
        base = {t: self.base.val[t][k] for t, k in self.primary.items()}
        return task_deltas({t: metrics[t][k] for t, k in self.primary.items()}, base, self.hib)

    def draw(self, layout: Layout) -> Run:
        """One stored seed of ``layout``."""
        entry = self.table.find(layout)
        assert entry is not None, layout.summary()
        return self.rng.choice(entry.runs)


def outside_space(table: Table) -> frozenset[Layout]:
    """The table's layouts its space cannot reach: the independent networks of a select/skip
    space. They are trained (every study trains its baselines) but never a strategy's answer,
    and the truth is the best layout *of the space*: on such a table the question is how well
    a strategy searches the space, and the confirm stage says whether its answer beats them.
    """
    space = space_of(table)
    out = set()
    for layout in (table.independent.layout, table.hard_sharing.layout):
        try:
            space.params(layout)
        except ValueError:
            out.add(layout)
    return frozenset(out)


def space_of(table: Table) -> SearchSpace:
    """The search space the table enumerates."""
    tasks = tuple(t["name"] for t in table.meta["tasks"])
    depth = table.independent.layout.depth
    return make_space(table.meta["space"], tasks, depth, table.meta.get("space_options", {}))


def search(
    table: Table,
    seed: int,
    budget: float,
    strategy: str,
    prune: bool = False,
    race: bool = False,
    queued: Sequence[Layout] = (),
    spent: float = 0.0,
    options: dict[str, object] | None = None,
) -> Replay:
    """One search (random, tpe, gp) of ``budget`` trainings; every trial logged with its cost.

    ``queued``: layouts run after the baselines, before the sampler's own (a warm start);
    ``spent``: trainings already spent before the first trial (a strategy's own learning).
    """
    rep = Replay(table, random.Random(seed))
    rep.spent = spent
    space = space_of(table)
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    epochs = len(table.independent.runs[0].curve)
    if prune:  # the product's default pruner: bottom quarter, judged from mid-training
        pruner = optuna.pruners.PercentilePruner(75.0, n_startup_trials=4,
                                                 n_warmup_steps=epochs // 2 + 1)  # fmt: skip
    if strategy in STARTS:  # TPE, its start-up named
        strategy, options = "tpe", {**STARTS[strategy], **(options or {})}
    sampler = make_strategy(strategy, options).sampler_for(space, seed)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    outside: list[Layout] = []  # a baseline the space cannot reach (independent, select/skip)
    for layout in (table.independent.layout, table.hard_sharing.layout, *queued):  # first
        try:
            study.enqueue_trial(space.params(layout), skip_if_exists=True)
        except ValueError:
            outside.append(layout)
    seen: dict[Layout, list[float]] = {}
    first: dict[Layout, int] = {}
    trials = 0
    while rep.spent < budget and trials < 6 * budget:
        trials += 1
        if (
            race
            and trials > 2
            and trials % 3 == 0
            and _race_once(rep, seen, len(table.meta["seeds"]))
        ):
            continue
        trial = study.ask()
        layout = outside.pop(0) if outside else space.suggest(trial)
        trial.set_user_attr("layout", layout.to_dict())  # as the study's objective records it
        if layout in seen:  # proposed again: the study reuses the first result, for free
            trial.set_user_attr("duplicate_of", first[layout])
            study.tell(trial, seen[layout][0])
            continue
        run = rep.draw(layout)
        pruned = False
        for epoch, metrics in enumerate(run.curve, start=1):
            value = rep.delta(metrics)
            trial.report(value if math.isfinite(value) else -1e9, epoch)
            if epoch < epochs and trial.should_prune():
                rep.spent += epoch / epochs
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                pruned = True
                break
        if pruned:
            continue
        rep.spent += 1.0
        value = rep.delta(run.val)
        value = value if math.isfinite(value) else -1e9
        seen[layout] = [value]
        first[layout] = trial.number
        rep.seen_terms[layout] = rep.terms(run.val)
        trial.set_user_attr("task_deltas", rep.seen_terms[layout])  # as the study's objective does
        study.tell(trial, value)
        rep.log.append((rep.spent, layout, value))
    return rep


def _race_once(rep: Replay, seen: dict[Layout, list[float]], seeds: int) -> bool:
    # One more seed for the contender with the best mean, while it has fewer than the table.
    ranked = sorted(seen, key=lambda lay: -statistics.fmean(seen[lay]))
    for layout in ranked[:1]:
        if len(seen[layout]) < seeds:
            run = rep.draw(layout)
            value = rep.delta(run.val)
            value = value if math.isfinite(value) else -1e9
            seen[layout].append(value)
            rep.spent += 1.0
            rep.log.append((rep.spent, layout, value))
            return True
    return False


def answer(rep: Replay, budget: float, race: bool = False) -> Layout | None:
    """The layout a search stopped at ``budget`` returns: its best validation Δ_MTL."""
    scores: dict[Layout, list[float]] = {}
    for spent, layout, value in rep.log:
        if spent > budget + 1e-9:
            break
        if layout not in rep.outside:
            scores.setdefault(layout, []).append(value)
    if not scores:
        return None
    if race:  # the best mean among layouts scored on two seeds or more, else the best single
        twice = {lay: statistics.fmean(v) for lay, v in scores.items() if len(v) >= 2}
        pool = twice or {lay: v[0] for lay, v in scores.items()}
        return max(pool, key=lambda lay: pool[lay])
    return max(scores, key=lambda lay: scores[lay][0])


def model_answer(rep: Replay, budget: float) -> Layout | None:
    """The tried layout of best posterior mean under the structural model at ``budget``."""
    pairs = [(lay, v) for spent, lay, v in rep.log if spent <= budget + 1e-9]
    tried = list(dict.fromkeys(lay for lay, _ in pairs if lay not in rep.outside))
    if not tried:
        return None
    design = Design.of([e.layout for e in rep.table.entries])
    posterior = fit(design.matrix([lay for lay, _ in pairs]), [v for _, v in pairs])
    mean, _ = posterior.predict(design.matrix(tried))
    return tried[int(mean.argmax())]


def confirm(rep: Replay, budget: float) -> tuple[Layout | None, float]:
    """The product pipeline: search, then retrain baselines and top 2 with fresh seeds."""
    seeds = confirm_seeds(rep.table)
    cost = (2 + CONFIRM_TOP) * seeds
    search_budget = budget - cost
    chosen = finalists(rep, search_budget, CONFIRM_TOP) if search_budget >= 2 else []
    if not chosen:
        return None, cost
    return verdict(rep, chosen, seeds), cost


def confirm_seeds(table: Table) -> int:
    """The confirm stage's seeds on ``table``: its default, or every seed the table has."""
    return min(CONFIRM_SEEDS, len(table.meta["seeds"]))


def finalists(rep: Replay, search_budget: float, top: int, by: str = "score") -> list[Layout]:
    """The ``top`` layouts a search stopped at ``search_budget`` retrains, baselines excluded.

    ``by``: ``score``, each layout's first validation score (as the product chooses), or
    ``model``, the per-task path model's posterior mean over every training so far.
    """
    tried: dict[Layout, float] = {}
    for spent, layout, value in rep.log:
        if spent <= search_budget + 1e-9:
            tried.setdefault(layout, value)
    baselines = {rep.table.independent.layout, rep.table.hard_sharing.layout}
    pool = [lay for lay in tried if lay not in baselines]
    score = {lay: tried[lay] for lay in pool}
    if by == "model" and pool:
        model = PathModel([e.layout for e in rep.table.entries], rep.table.independent.layout.tasks)
        mean = model.predict([(lay, rep.seen_terms[lay]) for lay in tried], pool)
        score = dict(zip(pool, mean.tolist(), strict=True))
    return sorted(pool, key=lambda lay: -score[lay])[:top]


def verdict(rep: Replay, finalists: Sequence[Layout], seeds: int) -> Layout:
    """The retrained layout of best mean validation Δ_MTL over ``seeds`` fresh seeds.

    As the product's verdict (:mod:`nas.study._outcome.verdict`) does, the baselines are retrained
    beside the finalists and may be the answer, ties going to a searched finalist; a baseline
    the table's space cannot reach (:func:`outside_space`) is retrained but never the answer,
    since the truth is the best layout of the space.
    """
    means = {}
    baselines = (rep.table.independent.layout, rep.table.hard_sharing.layout)
    for layout in (*baselines, *finalists):
        entry = rep.table.find(layout)
        assert entry is not None
        runs = rep.rng.sample(entry.runs, seeds)  # fresh seeds, paired with independent's
        means[layout] = statistics.fmean(r.val_delta for r in runs)
    pool = [*finalists, *(b for b in baselines if b not in rep.outside)]  # finalists exclude them
    return max(pool, key=lambda lay: (means[lay], lay in finalists))


def halving(table: Table, seed: int, budget: float, strategy: str = "random") -> Layout | None:
    """Successive halving with seeds as the resource: explore, then re-seed the best.

    60% of the budget trains distinct layouts once (the baselines queued first, the rest drawn
    by ``strategy``); a third of what is left gives the best third one more seed each; the rest
    goes, one seed at a time, to the layout with the best mean that still has fewer seeds than
    the table. Returns the best mean among the layouts with the most seeds of the last round.
    """
    explore = max(2, round(0.6 * budget))
    rep = search(table, seed, explore, strategy)
    seen: dict[Layout, list[float]] = {lay: [v] for _, lay, v in rep.log}
    if not seen:
        return None
    left = budget - rep.spent
    ranked = sorted(seen, key=lambda lay: -seen[lay][0])
    for layout in ranked[: max(2, int(left // 3))]:
        if left < 1:
            break
        seen[layout].append(rep.delta(rep.draw(layout).val))
        left -= 1
    most = len(table.meta["seeds"])
    while left >= 1:
        open_ = [lay for lay in seen if 2 <= len(seen[lay]) < most]
        if not open_:
            break
        layout = max(open_, key=lambda lay: statistics.fmean(seen[lay]))
        seen[layout].append(rep.delta(rep.draw(layout).val))
        left -= 1
    top = max(len(v) for v in seen.values())
    pool = {lay: statistics.fmean(v) for lay, v in seen.items() if len(v) >= min(top, 2)}
    return max(pool, key=lambda lay: pool[lay])


Scorer = Callable[[Table, int, float], Layout | None]


def strategies(max_budget: float) -> dict[str, Scorer]:
    """Each strategy: (table, seed, budget) -> the returned layout at that budget."""
    cache: dict[tuple[str, int, int], Replay] = {}

    def cached(kind: str, table: Table, seed: int, **kw: bool) -> Replay:
        key = (kind, id(table), seed)
        if key not in cache:
            name = kind.split("+")[0]
            options = VARIANTS.get(name)
            strategy = "structure" if options is not None else name
            cache[key] = search(table, seed, max_budget, strategy, options=options, **kw)
        return cache[key]

    trees: dict[int, list[Layout]] = {}

    def warm(sampler: str, pipeline: bool = False) -> Scorer:
        # --warm-start affinity: one training of single-task networks (run for real with the
        # table's configuration), its trees queued after the baselines, then the sampler;
        # ``pipeline``: the confirm stage after it, as ``mtlnas search`` runs it.
        def score(table: Table, seed: int, budget: float) -> Layout | None:
            if table.meta["space"] != "branched":
                return None  # its trees are trees: a select-or-skip space holds none
            if id(table) not in trees:
                from bench.peers import affinity_trees

                trees[id(table)] = affinity_trees(table, 3)[0]
            key = (f"affinity+{sampler}", id(table), seed)
            if key not in cache:
                cache[key] = search(table, seed, max_budget, sampler, queued=trees[id(table)],
                                    spent=1.0)  # fmt: skip
            return confirm(cache[key], budget)[0] if pipeline else answer(cache[key], budget)

        return score

    def variant(name: str, mean: bool) -> Scorer:
        if mean:
            return lambda t, s, b: model_answer(cached(name, t, s), b)
        return lambda t, s, b: answer(cached(name, t, s), b)

    return {
        "random": lambda t, s, b: answer(cached("random", t, s), b),
        "tpe": lambda t, s, b: answer(cached("tpe", t, s), b),
        "paths": lambda t, s, b: answer(cached("paths", t, s), b),
        "tpe+pruner": lambda t, s, b: answer(cached("tpe+pruner", t, s, prune=True), b),
        "gp": lambda t, s, b: answer(cached("gp", t, s), b),
        "race": lambda t, s, b: answer(cached("tpe+race", t, s, race=True), b, race=True),
        "spread": lambda t, s, b: answer(cached("spread", t, s), b),
        "tpe+confirm": lambda t, s, b: confirm(cached("tpe", t, s), b)[0],
        "spread+confirm": lambda t, s, b: confirm(cached("spread", t, s), b)[0],
        "paths+confirm": lambda t, s, b: confirm(cached("paths", t, s), b)[0],
        **{f"{v}{m}": variant(v, m == "+mean") for v in VARIANTS for m in ("", "+mean")},
        "affinity+tpe": warm("tpe"),
        "affinity+structure": warm("structure"),
        "affinity+paths": warm("paths"),
        "affinity+paths+confirm": warm("paths", pipeline=True),
        "halving": lambda t, s, b: halving(t, s, b),
        "tpe+halving": lambda t, s, b: halving(t, s, b, "tpe"),
    }


def interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its normal 95% interval."""
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, half


def ceiling(truth: Sequence[Entry], reps: int) -> tuple[float, float]:
    """Top-5 rate and mean regret of the search that trains every layout once (one stored seed
    drawn per layout) and returns the best validation score: what answering by one seed's score
    can reach at any budget."""
    rng = random.Random(0)
    top5 = {e.layout for e in truth[:5]}
    hits, regrets = 0, []
    for _ in range(reps):
        pick = max(truth, key=lambda e: rng.choice(e.runs).val_delta)
        hits += pick.layout in top5
        regrets.append(100 * (truth[0].test_delta - pick.test_delta))
    return hits / reps, statistics.fmean(regrets)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tables", nargs="+", help="table files written by mtlnas tabulate")
    p.add_argument("--reps", type=int, default=100, help="repetitions per strategy (default 100)")
    p.add_argument("--budgets", default="10,20,30,40", help="compute budgets, in full trainings")
    p.add_argument(
        "--strategies",
        default=None,
        help="comma-separated subset; default: every strategy except gp (19 s a repetition on "
        "2 cores, half an hour per table at 100 repetitions) and the structure strategy's "
        "alternatives (VARIANTS); name those to run them",
    )
    p.add_argument("--figure", default=None, help="write regret against compute here (PNG)")
    args = p.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",")]
    results: dict[str, dict[str, dict[float, list[float]]]] = {}
    for path in args.tables:
        table = load_table(path)
        outside = outside_space(table)
        truth = [e for e in table.ranked() if e.layout not in outside]
        best, top5 = truth[0].test_delta, {e.layout for e in truth[:5]}
        if outside:
            print(f"\n[{Path(path).name}] the space cannot reach "
                  f"{', '.join(lay.summary() for lay in outside)}: trained, never an answer; "
                  "the truth is the space's best layout")  # fmt: skip
        print(f"\n[{Path(path).name}] {len(table.entries)} layouts x {len(table.meta['seeds'])} "
              f"seeds; best mean test Δ_MTL {100 * best:+.2f}% ({truth[0].layout.summary()}); "
              f"hard sharing rank {table.rank_of(table.hard_sharing.layout)}, independent "
              f"{table.rank_of(table.independent.layout)}")  # fmt: skip
        hit5, regret = ceiling(truth, 1000)
        print(f"noise ceiling: every layout of the space trained once, the best score returned: "
              f"top-5 {hit5:.2f}, regret {regret:.2f} points ({len(truth)} trainings)")  # fmt: skip
        chosen = strategies(max(budgets))
        if args.strategies:
            chosen = {k: v for k, v in chosen.items() if k in args.strategies.split(",")}
        else:  # gp is slow; the structure strategy's alternatives are asked for by name
            extra = {"gp", *(f"{v}{m}" for v in VARIANTS for m in ("", "+mean"))} - {"structure"}
            chosen = {k: v for k, v in chosen.items() if k not in extra}
        out = results.setdefault(Path(path).name, {})
        print(f"{'strategy':<12} {'budget':>6} {'regret (points)':>20} {'top-1':>6} {'top-5':>6}")
        for name, scorer in chosen.items():
            start = time.perf_counter()
            for budget in budgets:
                regrets, hit1, hit5 = [], 0, 0
                for rep in range(args.reps):
                    got = scorer(table, rep, budget)
                    if got is None:
                        continue
                    entry = table.find(got)
                    assert entry is not None
                    regrets.append(100 * (best - entry.test_delta))
                    hit1 += got == truth[0].layout
                    hit5 += got in top5
                out.setdefault(name, {})[budget] = regrets
                if not regrets:
                    print(f"{name:<12} {budget:>6g} {'(over budget or n/a)':>20}")
                    continue
                mean, half = interval(regrets)
                n = len(regrets)
                print(f"{name:<12} {budget:>6g} {mean:>12.2f} ± {half:<5.2f} "
                      f"{hit1 / n:>6.2f} {hit5 / n:>6.2f}")  # fmt: skip
            print(f"{'':<12} ({time.perf_counter() - start:.0f} s for {args.reps} repetitions)")
        pairs = [(s, "random") for s in out if s != "random"] + [("tpe+confirm", "tpe")]
        pairs += [
            ("paths+confirm", "tpe+confirm"),
            ("spread", "tpe"),
            ("spread+confirm", "tpe+confirm"),
        ]
        for a, b in pairs:
            if a in out and b in out:
                for budget in budgets:
                    x, y = out[a][budget], out[b][budget]
                    if len(x) == len(y) == args.reps:
                        mean, half = interval([u - v for u, v in zip(x, y, strict=True)])
                        print(f"paired regret {a} - {b} at {budget:g} trainings: "
                              f"{mean:+.2f} ± {half:.2f} points (95%)")  # fmt: skip
    if args.figure:
        draw(results, args.figure)
        print(f"wrote {args.figure}")


def draw(results: dict[str, dict[str, dict[float, list[float]]]], path: str) -> None:
    """Regret against compute, one panel per table, mean and 95% interval per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (name, by_strategy) in zip(axes[0], results.items(), strict=True):
        for strategy, by_budget in by_strategy.items():
            points = [(b, *interval(v)) for b, v in sorted(by_budget.items()) if v]
            if not points:
                continue
            xs, means, halves = zip(*points, strict=True)
            ax.plot(xs, means, marker="o", label=strategy)
            lo = [m - h for m, h in zip(means, halves, strict=True)]
            hi = [m + h for m, h in zip(means, halves, strict=True)]
            ax.fill_between(xs, lo, hi, alpha=0.15)
        ax.set_title(name.removesuffix(".table.json"))
        ax.set_xlabel("compute (full trainings)")
        ax.set_ylabel("regret: best minus returned mean test Δ_MTL (points)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
