"""Logging for workers: one line per event, ids and codes only.

Workers log what happened to which message or child id, never a value from a
message: the handlers and errors are written so that nothing personal reaches
a log line in the first place.
"""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # kafka-python is chatty at INFO about connections; keep its warnings, except
    # the selector's "blocking the event loop" timing notes, which are its own
    # scheduling and say nothing an operator can act on.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    # apscheduler logs each job added, started and run at INFO (twice over: the
    # daily job and the catch-up at start); the retention job logs its own result.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
