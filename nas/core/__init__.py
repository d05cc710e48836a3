"""The ground floor: user errors, machine faults, plug-in lookup and the Layout.

Imports nothing else of mtl-nas, and no torch: ``import nas.core._layout`` stays light.
"""

from nas.core._errors import UserError
from nas.core._faults import (
    MachineFault,
    Terminated,
    deferred_interrupts,
    describe_fault,
    interrupt_reason,
    is_interrupt,
    is_terminated,
    quiet_trial_tracebacks,
    signals_as_interrupts,
)
from nas.core._layout import LAYOUT_FORMAT, LAYOUT_VERSION, Layout, LayoutError
from nas.core._plugins import BUILTINS, Catalog, Entry, bind, listing

__all__ = [
    "BUILTINS",
    "Catalog",
    "Entry",
    "LAYOUT_FORMAT",
    "LAYOUT_VERSION",
    "Layout",
    "LayoutError",
    "MachineFault",
    "Terminated",
    "UserError",
    "bind",
    "deferred_interrupts",
    "describe_fault",
    "interrupt_reason",
    "is_interrupt",
    "is_terminated",
    "listing",
    "quiet_trial_tracebacks",
    "signals_as_interrupts",
]
