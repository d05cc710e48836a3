"""Figures of a study: its history, confirmed result, Pareto front and the layouts drawn.

Part of the application layer; matplotlib is imported only when a figure is drawn.
"""

__all__: list[str] = []
