"""What a search is: its configuration, objectives, budgets, strategies and evaluators.

Imports the layers below and ``search_spaces``, never :mod:`nas.study`. A new strategy goes in
``strategies/``, a new way of scoring a candidate in ``evaluators/``.
"""

__all__ = ["budgets", "config", "evaluators", "objectives", "strategies", "tables"]
