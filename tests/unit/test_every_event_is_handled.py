"""Every event class is projected and chained, or explicitly left out: none is forgotten.

Projections and ledger entries are keyed by the event classes themselves, so
renaming one fails at import; a new event class nobody thought about fails
here, instead of silently never reaching a read model or the ledger.
"""

from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate

from domain.access_log import AccessLog
from domain.case import Case
from domain.child import Child
from domain.disclosure import Disclosure
from domain.rights_request import RightsRequest
from projections import caseworker, ledger

AGGREGATES = [Child, Case, Disclosure, RightsRequest, AccessLog]


def event_classes() -> list[type]:
    return [
        value
        for aggregate in AGGREGATES
        for value in vars(aggregate).values()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and value.__name__ not in {"Event", "Created"}  # the library's bases, never stored
    ]


def test_the_aggregates_have_events() -> None:
    assert len(event_classes()) > 30


@pytest.mark.parametrize("event", event_classes(), ids=lambda e: e.__qualname__)
def test_each_event_has_a_projection_or_is_named_as_needing_none(event: type) -> None:
    assert (event in caseworker.BY_EVENT) != (event in caseworker.NOT_PROJECTED), (
        f"{event.__qualname__}: project it (projections/caseworker.BY_EVENT) or say why not "
        "(NOT_PROJECTED); not both"
    )


@pytest.mark.parametrize("event", event_classes(), ids=lambda e: e.__qualname__)
def test_each_event_has_a_ledger_entry_or_is_named_as_needing_none(event: type) -> None:
    assert (event in ledger.BY_EVENT) != (event in ledger.NOT_IN_LEDGER), (
        f"{event.__qualname__}: give it a ledger entry (projections/ledger.BY_EVENT) or say "
        "why not (NOT_IN_LEDGER); not both"
    )
