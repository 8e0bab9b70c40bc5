"""Worker logs carry what an operator acts on, not the libraries' chatter (#15)."""

from __future__ import annotations

import logging

from cme import logs


def test_library_chatter_is_kept_out_and_warnings_kept_in() -> None:
    logs.configure()
    assert not logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.INFO)
    assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.WARNING)
    assert not logging.getLogger("kafka.net.selector").isEnabledFor(logging.WARNING)
    assert logging.getLogger("kafka.conn").isEnabledFor(logging.WARNING)
