"""Training: one network on a problem, a weight-sharing supernet, AdaShare's policy, affinity.

Imports the layers below (core, model, data) and ``search_spaces``; blind to Optuna studies.
"""

from nas.training._affinity import (
    POOLED,
    affinity,
    choose_trees,
    dissimilarity_score,
    rdm,
    representations,
    spearman,
    trees,
)
from nas.training._policy import INITIAL_LOGIT, Policy, gated_forward
from nas.training._policy_schedule import Schedule, Step, halves_steps
from nas.training._policy_training import PolicyTraining, schedule_for, train_policy
from nas.training._problem import Metrics, Problem, network_from_description
from nas.training._supernet import FairSampler, Supernet, recalibrate
from nas.training._train import (
    DeviceError,
    DivergedError,
    TrainConfig,
    TrainResult,
    evaluate,
    pick_device,
    train,
)

__all__ = [
    "DeviceError",
    "DivergedError",
    "FairSampler",
    "INITIAL_LOGIT",
    "Metrics",
    "POOLED",
    "Policy",
    "PolicyTraining",
    "Problem",
    "Schedule",
    "Step",
    "Supernet",
    "TrainConfig",
    "TrainResult",
    "affinity",
    "choose_trees",
    "dissimilarity_score",
    "evaluate",
    "gated_forward",
    "halves_steps",
    "network_from_description",
    "pick_device",
    "rdm",
    "recalibrate",
    "representations",
    "schedule_for",
    "spearman",
    "train",
    "train_policy",
    "trees",
]
