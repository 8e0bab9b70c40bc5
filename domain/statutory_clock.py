"""The statutory clock of a rights request (UK GDPR Art 12(3)), as pure functions.

One calendar month from receipt, extended by at most two further months;
time while the clock is stopped (waiting for proof of identity or for
clarification) does not count. Where the month has no matching day, the
deadline is the last day of that month (ICO guidance).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta

MAX_EXTENSION_MONTHS = 2


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def paused_days(stops: Iterable[tuple[date, date | None]], as_of: date) -> int:
    """Days the clock stood still; an open stop counts up to ``as_of``."""
    return sum(((resumed or as_of) - stopped).days for stopped, resumed in stops)


def due_on(
    received_on: date,
    extension_months: int,
    stops: Iterable[tuple[date, date | None]],
    as_of: date,
) -> date:
    base = add_months(received_on, 1 + extension_months)
    return base + timedelta(days=paused_days(stops, as_of))
