"""What every long-running worker shares: clean shutdown, retry with backoff, fault points.

A worker stops when SIGTERM or SIGINT sets its stop event: it finishes the
batch in hand, commits, and leaves its consumer group. A transient failure
(database or broker unavailable) is retried with exponential backoff, never
skipped. Fault points let the crash tests kill a worker at an exact instant.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError
from kafka.errors import KafkaError

log = logging.getLogger("cme.worker")
T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
    KafkaError,
    ConnectionError,
    TimeoutError,
)


class StopRequestedError(Exception):
    """Raised out of a retry loop when the worker was asked to stop meanwhile."""


def install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        log.info(
            "received %s: finishing the current batch, then stopping", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def retrying(
    work: Callable[[], T],
    stop: threading.Event,
    what: str,
    first_delay: float = 0.5,
    max_delay: float = 30.0,
) -> T:
    """Run ``work`` until it succeeds, backing off on transient errors."""
    delay = first_delay
    while True:
        try:
            return work()
        except TRANSIENT as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            if stop.wait(delay):
                raise StopRequestedError(what) from None
            delay = min(delay * 2, max_delay)


class FaultInjectedError(RuntimeError):
    """Raised at a fault point named by CME_FAULT_RAISE: a stand-in for a bug in the code."""


def fault_point(name: str) -> None:
    """Pause forever here if CME_FAULT_PAUSE names this point (crash tests only).

    The worker first writes CME_FAULT_MARKER so the test knows it is here and
    can kill it with SIGKILL at exactly this instant. CME_FAULT_RAISE naming
    the point raises instead, as a programming error would.
    """
    if os.environ.get("CME_FAULT_RAISE") == name:
        msg = f"fault injected at {name}"
        raise FaultInjectedError(msg)
    if os.environ.get("CME_FAULT_PAUSE") != name:
        return
    marker = os.environ.get("CME_FAULT_MARKER")
    if marker:
        Path(marker).write_text(name)
    while True:  # pragma: no cover - ended by SIGKILL
        time.sleep(3600)


def where(exc: BaseException) -> str:
    """The innermost frame of our own code an exception came from (never its message).

    An exception's message may quote a value (a driver's "invalid input ..."),
    and values may be personal data; the type and the place are enough to act on.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    if not ours:
        return type(exc).__name__
    frame = ours[-1]
    return f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno} in {frame.name}"
