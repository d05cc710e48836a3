"""Where the library's messages go: the ``nas`` logger, shown on the console by the app.

Below the app layer nothing prints: each module logs to ``logging.getLogger(__name__)``, under
the ``nas`` logger. The command line and the Python API call :func:`show_messages`, which shows
INFO on standard output and warnings on standard error, as bare lines (the messages are written
to be read as they are). A program that embeds mtl-nas configures ``nas`` as it likes instead;
left alone, only warnings reach standard error (Python's last-resort handler).
"""

from __future__ import annotations

import logging
import sys

__all__ = ["Console", "show_messages"]


class Console(logging.Handler):
    """INFO to standard output, WARNING and above to standard error, message only.

    The streams are looked up at each message, so a redirected ``sys.stdout`` (a test's
    capture, a caller's ``contextlib.redirect_stdout``) gets what is logged after it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write one message as one line."""
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def show_messages() -> None:
    """Show the ``nas`` logger's messages on the console (once per process)."""
    logger = logging.getLogger("nas")
    if not any(isinstance(h, Console) for h in logger.handlers):
        logger.addHandler(Console())
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not twice when the root logger has a handler too
