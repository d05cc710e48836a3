"""The application: the ``mtlnas`` command line, the Python API, and the views and figures.

The top layer: imports every layer and ``export/``; nothing imports it but the entry points.
A new view (a table or report) goes in ``views.py`` or ``reports.py``, a figure in ``plots/``.
"""

__all__ = ["api", "cli", "commands", "jobs", "options", "plots", "reports", "views"]
