"""The application: the ``mtlnas`` command line and the Python API.

The command line is :mod:`nas.app.cli`; the API is :mod:`nas.app.api`, also at the top level
(``nas.search``, ``nas.resume``, ``nas.export``).

The top layer: imports every layer and ``export/``; nothing imports it but the entry points.
Nothing is imported here, so ``mtlnas --help`` starts without torch. A new view (a table or
report) goes in ``_views.py`` or ``_reports.py``, a figure in ``_plots/``.
"""

__all__: list[str] = []
