"""Does this machine train a study's runs to the same bits? Retrain stored runs and compare.

Two parts, both on the CPU:

- ``--study NAME [--runs N,M ...]``: retrain search trials (``NAME``) or confirm runs
  (``NAME:confirm``) of a study in ``--storage`` with this code, each in this process, and
  compare every weight tensor with the stored file. Equal weights mean this machine, torch build
  and thread count reproduce that study's figures exactly.
- ``--set-ups``: one epoch of the hard-sharing network of the main job's benchmark (seed 1000)
  trained in fresh processes under several numeric set-ups (as it is; after other training in
  the same process; the convolution kernels limited to AVX2; one thread), a hash of the
  weights and the validation metrics of each side by side: which changes give other bits.

    python bench/reproduce.py --study scenes-branched:confirm --runs 1
    python bench/reproduce.py --set-ups
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys

import optuna
import torch

from nas.core import Layout
from nas.explore import SearchConfig
from nas.explore.evaluators import Candidate, FullTraining
from nas.runtime import numerics
from nas.study import TrialRecord, artifact_store, open_storage, prepare, study_config
from nas.study._store.weights import load_weights

SET_UPS = {
    "as it is": {},
    "after other training": {"MTLNAS_PROBE_AFTER": "1"},
    "conv kernels AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "one thread": {"OMP_NUM_THREADS": "1"},
}


def retrain(storage_url: str, name: str, number: int) -> bool:
    """Retrain run ``number`` of study ``name``; True when every weight equals the stored one."""
    storage = open_storage(storage_url)
    study = optuna.load_study(study_name=name, storage=storage)
    search = optuna.load_study(study_name=name.removesuffix(":confirm"), storage=storage)
    config = study_config(search)
    problem, _ = prepare(config, torch.device("cpu"))
    r = TrialRecord.of(study.trials[number])
    if r.layout is None or r.weights is None:
        sys.exit(f"{name} run {number} has no stored layout and weights to compare with")
    seed = r.seed if r.seed is not None else config.seed
    candidate = Candidate(Layout.from_dict(r.layout), r.loss_weighting or "equal", seed)
    net = FullTraining.from_config(config).evaluate(problem, candidate).network
    assert net is not None
    stored = load_weights(artifact_store(storage_url), r.weights, r.weights_sha256)
    return all(torch.equal(v.cpu(), stored[k]) for k, v in net.state_dict().items())


def probe() -> str:
    """One epoch of hard sharing at seed 1000: a weight hash and the validation metrics."""
    config = SearchConfig(epochs=1)
    problem, space = prepare(config, torch.device("cpu"))
    trainer = FullTraining.from_config(config)
    if os.environ.get("MTLNAS_PROBE_AFTER"):  # something else trained first in this process
        independent = Layout.independent(space.tasks, space.depth)
        trainer.evaluate(problem, Candidate(independent, "equal", 7))
    hard = Layout.hard_sharing(space.tasks, space.depth)
    result = trainer.evaluate(problem, Candidate(hard, "equal", 1000))
    assert result.network is not None
    digest = hashlib.sha256()
    for v in result.network.state_dict().values():
        digest.update(v.detach().cpu().numpy().tobytes())
    primary = problem.primary(result.metrics)
    scores = ", ".join(f"{t} {v:.4f}" for t, v in primary.items())
    return f"{digest.hexdigest()[:16]}  {scores}  [{numerics('cpu')}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--study", help="study whose runs to retrain (NAME or NAME:confirm)")
    parser.add_argument("--runs", default="0", help="run numbers, comma-separated (default 0)")
    parser.add_argument("--storage", default="sqlite:///studies.db")
    parser.add_argument("--set-ups", action="store_true", help="compare numeric set-ups")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(probe())
        return
    if args.study:
        for number in (int(n) for n in args.runs.split(",")):
            same = retrain(args.storage, args.study, number)
            word = "bit-identical weights" if same else "OTHER weights"
            print(f"{args.study} run {number}: {word} on this set-up ({numerics('cpu')})")
    if args.set_ups:
        for label, env in SET_UPS.items():
            out = subprocess.run(
                [sys.executable, __file__, "--probe"], env={**os.environ, **env},
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            print(f"{label:>22}: {out.stdout.strip()}")
    if not (args.study or args.set_ups):
        parser.error("give --study NAME and/or --set-ups")


if __name__ == "__main__":
    main()
