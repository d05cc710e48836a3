"""The export commands of ``mtlnas``: export, predict, bench."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["EXPORT_HANDLERS", "add_export_commands"]

EXPORT_HANDLERS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], int]] = {}


def add_export_commands(sub: Any, storage_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the export subcommands on the ``mtlnas`` parser."""
