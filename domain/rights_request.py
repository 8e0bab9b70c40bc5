"""The RightsRequest aggregate: a data-subject request and its statutory clock.

The privacy notice promises access, rectification, objection, erasure,
restriction, portability and review of automated decisions, each answered in
time and, when refused, with an explanation.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import RequestStateError
from domain.statutory_clock import MAX_EXTENSION_MONTHS, due_on
from domain.values import RequestDecision, RightsRequestType


class RightsRequest(Aggregate):
    """A request by or for a child to exercise one of their rights."""

    class Event(Aggregate.Event):
        actor: str
        child_id: UUID

    class Received(Aggregate.Created, Event):
        request_type: str
        received_on: date
        personal: dict[str, Any]  # requester's name and contact, the request's words

    @event(Received)
    def __init__(
        self,
        actor: str,
        child_id: UUID,
        request_type: str,
        received_on: date,
        personal: dict[str, Any],
    ) -> None:
        self.child_id = child_id
        self.request_type = RightsRequestType(request_type)
        self.received_on = received_on
        self.identity_verified_on: date | None = None
        self.stops: list[tuple[date, date | None]] = []
        self.extension_months = 0
        self.decision: RequestDecision | None = None
        self.decided_on: date | None = None
        self.closed_on: date | None = None

    class IdentityVerified(Event):
        verified_on: date

    def verify_identity(self, actor: str, verified_on: date) -> None:
        self._verify(actor=actor, child_id=self.child_id, verified_on=verified_on)

    @event(IdentityVerified)
    def _verify(self, actor: str, child_id: UUID, verified_on: date) -> None:
        self.check_open()
        if verified_on < self.received_on:
            msg = "identity cannot be verified before the request was received"
            raise RequestStateError(msg, field="verified_on")
        self.identity_verified_on = verified_on

    class ClockStopped(Event):
        stopped_on: date
        reason: str

    def stop_clock(self, actor: str, stopped_on: date, reason: str) -> None:
        self._stop(actor=actor, child_id=self.child_id, stopped_on=stopped_on, reason=reason)

    @event(ClockStopped)
    def _stop(self, actor: str, child_id: UUID, stopped_on: date, reason: str) -> None:
        self.check_open()
        if self.clock_stopped:
            msg = "the clock is already stopped"
            raise RequestStateError(msg, field="stopped_on")
        if stopped_on < self.received_on:
            msg = "the clock cannot stop before the request was received"
            raise RequestStateError(msg, field="stopped_on")
        self.stops.append((stopped_on, None))

    class ClockResumed(Event):
        resumed_on: date

    def resume_clock(self, actor: str, resumed_on: date) -> None:
        self._resume(actor=actor, child_id=self.child_id, resumed_on=resumed_on)

    @event(ClockResumed)
    def _resume(self, actor: str, child_id: UUID, resumed_on: date) -> None:
        if not self.clock_stopped:
            msg = "the clock is not stopped"
            raise RequestStateError(msg, field="resumed_on")
        stopped_on, _ = self.stops[-1]
        if resumed_on < stopped_on:
            msg = "the clock cannot resume before it stopped"
            raise RequestStateError(msg, field="resumed_on")
        self.stops[-1] = (stopped_on, resumed_on)

    class Extended(Event):
        months: int
        personal: dict[str, Any]  # the reason given to the requester

    def extend(self, actor: str, months: int, reason: str) -> None:
        self.check_open()
        if self.extension_months + months > MAX_EXTENSION_MONTHS:
            msg = f"a request can be extended by at most {MAX_EXTENSION_MONTHS} months in all"
            raise RequestStateError(msg, field="months")
        self._extend(
            actor=actor, child_id=self.child_id, months=months, personal={"reason": reason}
        )

    @event(Extended)
    def _extend(self, actor: str, child_id: UUID, months: int, personal: dict[str, Any]) -> None:
        self.extension_months += months

    class Decided(Event):
        decision: str
        decided_on: date
        personal: dict[str, Any] | None  # the explanation

    def decide(
        self, actor: str, decision: RequestDecision, decided_on: date, explanation: str | None
    ) -> None:
        self.check_open()
        if self.decision is not None:
            msg = "the request has already been decided"
            raise RequestStateError(msg, field="decision")
        if decision is not RequestDecision.REFUSED and self.identity_verified_on is None:
            msg = "verify the requester's identity before fulfilling the request"
            raise RequestStateError(msg, field="decision")
        if decided_on < self.received_on:
            msg = "a decision cannot precede the request"
            raise RequestStateError(msg, field="decided_on")
        self._decide(
            actor=actor,
            child_id=self.child_id,
            decision=decision.value,
            decided_on=decided_on,
            personal={"explanation": explanation} if explanation else None,
        )

    def grants(self) -> bool:
        """Whether the request was decided in the requester's favour (in full or in part)."""
        return self.decision is not None and self.decision is not RequestDecision.REFUSED

    @event(Decided)
    def _decide(
        self,
        actor: str,
        child_id: UUID,
        decision: str,
        decided_on: date,
        personal: dict[str, Any] | None,
    ) -> None:
        self.decision = RequestDecision(decision)
        self.decided_on = decided_on
        if self.clock_stopped:
            self.stops[-1] = (self.stops[-1][0], decided_on)

    class Closed(Event):
        closed_on: date

    def close(self, actor: str, closed_on: date) -> None:
        self._close(actor=actor, child_id=self.child_id, closed_on=closed_on)

    @event(Closed)
    def _close(self, actor: str, child_id: UUID, closed_on: date) -> None:
        self.check_open()
        if self.decision is None:
            msg = "decide the request before closing it"
            raise RequestStateError(msg, field="closed_on")
        self.closed_on = closed_on

    # -- queries ---------------------------------------------------------------

    @property
    def clock_stopped(self) -> bool:
        return bool(self.stops) and self.stops[-1][1] is None

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    def due_on(self, as_of: date) -> date:
        return due_on(self.received_on, self.extension_months, self.stops, as_of)

    def is_overdue(self, as_of: date) -> bool:
        return self.decision is None and as_of > self.due_on(as_of)

    def check_open(self) -> None:
        if self.closed_on is not None:
            msg = f"request {self.id} is closed"
            raise RequestStateError(msg, field="request_id")
