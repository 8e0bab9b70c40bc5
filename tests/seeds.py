"""Random seeds for synthetic test data: varied every run, printed, and repeatable.

One base seed per run comes from ``CME_TEST_SEED`` or the clock; each test
derives its own from it by name. pytest prints the base seed in its header,
so a failure found with one seed can be run again with
``CME_TEST_SEED=<seed> make test``.
"""

from __future__ import annotations

import hashlib
import os
import time

BASE_SEED = int(os.environ.get("CME_TEST_SEED") or time.time_ns() % 2**32)


def seed(name: str) -> int:
    """This run's seed for ``name``: different per test, the same for the same base seed."""
    digest = hashlib.sha256(f"{BASE_SEED}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")
