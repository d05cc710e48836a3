"""The ground floor: user errors, machine faults, plug-in lookup and the Layout.

Imports nothing else of mtl-nas, and no torch: ``import nas.core.layout`` stays light.
"""

__all__ = ["errors", "faults", "layout", "plugins"]
