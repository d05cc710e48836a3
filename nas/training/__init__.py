"""Training: one network on a problem, a weight-sharing supernet, AdaShare's policy, affinity.

Imports the layers below (core, model, data) and ``search_spaces``; blind to Optuna studies.
"""

__all__ = [
    "affinity",
    "policy",
    "policy_schedule",
    "policy_training",
    "problem",
    "supernet",
    "train",
]
