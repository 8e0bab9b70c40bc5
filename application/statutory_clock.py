"""The statutory clock of rights requests: which are still undecided, which are due soon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from eventsourcing.utils import get_topic

from application import CMEApplication
from domain.rights_request import RightsRequest

RECEIVED_TOPIC = get_topic(RightsRequest.Received)


def undecided_requests(app: CMEApplication) -> Iterator[RightsRequest]:
    """Every rights request still open and not yet decided."""
    for request_id in app.queries.originators_of(RECEIVED_TOPIC):
        request = app.get_rights_request(request_id)
        if request.is_open and request.decision is None:
            yield request


def overdue(app: CMEApplication, today: date, within_days: int = 7) -> list[dict[str, Any]]:
    rows = []
    for request in undecided_requests(app):
        due = request.due_on(today)
        if (due - today).days <= within_days:
            rows.append(
                {
                    "request_id": str(request.id),
                    "child_id": str(request.child_id),
                    "type": request.request_type.value,
                    "received_on": request.received_on.isoformat(),
                    "due_on": due.isoformat(),
                    "days_left": (due - today).days,
                    "clock_stopped": request.clock_stopped,
                }
            )
    return sorted(rows, key=lambda r: r["days_left"])
