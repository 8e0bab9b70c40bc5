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
    # kafka-python is chatty at INFO about connections; keep its warnings.
    logging.getLogger("kafka").setLevel(logging.WARNING)
