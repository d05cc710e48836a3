"""What a search is: its configuration, objectives, budgets, strategies and evaluators.

Imports the layers below and ``search_spaces``, never :mod:`nas.study`. A new strategy goes in
``strategies/``, a new way of scoring a candidate in ``evaluators/``.
"""

from nas.explore._budgets import BudgetError, parse_max_cost, resolve, widest
from nas.explore._config import PRUNERS, ConfigError, SearchConfig, conflicts, pruning_warmup
from nas.explore._objectives import (
    COSTS,
    OBJECTIVES_CATALOG,
    Objectives,
    ObjectivesError,
    feasible,
    make_objectives,
    register_objectives,
)
from nas.explore._tables import (
    TABLE_FORMAT,
    TABLE_VERSION,
    Entry,
    Run,
    Table,
    TableError,
    load_table,
)

__all__ = [
    "BudgetError",
    "OBJECTIVES_CATALOG",
    "COSTS",
    "ConfigError",
    "Entry",
    "Objectives",
    "ObjectivesError",
    "PRUNERS",
    "Run",
    "SearchConfig",
    "TABLE_FORMAT",
    "TABLE_VERSION",
    "Table",
    "TableError",
    "conflicts",
    "feasible",
    "load_table",
    "make_objectives",
    "parse_max_cost",
    "pruning_warmup",
    "register_objectives",
    "resolve",
    "widest",
]
