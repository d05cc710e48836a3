"""The one base class of mistakes a user can fix.

The command line prints such an error as one line and exits with status 2; any other exception
is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """Bad input, a missing file, a study in the wrong state: the message says what to do."""
