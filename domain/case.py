"""The Case aggregate: one CME episode, from referral to closure with an outcome.

The case names its child by id (in clear) so the sealed parts of its events
(referrer details, enquiry notes, decision reasons) are bound to that child's
key and vanish with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.errors import CaseClosedError, InvalidTransitionError, NotFoundError
from domain.values import ALLOWED_TRANSITIONS, CaseStatus


@dataclass(frozen=True)
class Enquiry:
    enquiry_id: UUID
    made_on: date
    agency: str
    method: str
    outcome: str
    joint_with_school: bool = False


@dataclass(frozen=True)
class SupportDecision:
    decision_id: UUID
    decision: str
    decided_by: str
    automated: bool
    rule_id: str | None
    reviewed: bool = False
    upheld: bool | None = None


class Case(Aggregate):
    """A Children Missing Education episode for one child."""

    class Event(Aggregate.Event):
        actor: str
        child_id: UUID

    class Opened(Aggregate.Created, Event):
        """Version 2 added ``assigned_officer``; version 1 events read as unassigned."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("assigned_officer", None)

        source: str
        reason: str
        referred_on: date
        assigned_officer: str | None
        personal: dict[str, Any] | None  # referrer's name and contact, referral notes

    @event(Opened)
    def __init__(
        self,
        actor: str,
        child_id: UUID,
        source: str,
        reason: str,
        referred_on: date,
        assigned_officer: str | None,
        personal: dict[str, Any] | None,
    ) -> None:
        self.child_id = child_id
        self.source = source
        self.reason = reason
        self.referred_on = referred_on
        self.assigned_officer = assigned_officer
        self.next_action_due: date | None = None
        self.status = CaseStatus.REFERRED
        self.status_since = referred_on
        self.enquiries: list[Enquiry] = []
        self.decisions: list[SupportDecision] = []
        self.outcome: str | None = None
        self.closed_on: date | None = None

    class StatusChanged(Event):
        status: str
        changed_on: date

    def change_status(self, actor: str, status: str, changed_on: date) -> None:
        self._change_status(
            actor=actor, child_id=self.child_id, status=status, changed_on=changed_on
        )

    @event(StatusChanged)
    def _change_status(self, actor: str, child_id: UUID, status: str, changed_on: date) -> None:
        self.check_open()
        target = CaseStatus(status)
        if target not in ALLOWED_TRANSITIONS[self.status]:
            msg = f"a case cannot move from {self.status.value} to {target.value}"
            raise InvalidTransitionError(msg, field="status")
        self.status = target
        self.status_since = changed_on

    class EnquiryRecorded(Event):
        """Version 2 added ``joint_with_school``; version 1 enquiries read as the LA's own."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("joint_with_school", False)

        enquiry_id: UUID
        made_on: date
        agency: str
        method: str
        outcome: str
        joint_with_school: bool
        personal: dict[str, Any] | None  # the enquiry notes

    def record_enquiry(
        self,
        actor: str,
        made_on: date,
        agency: str,
        method: str,
        outcome: str,
        notes: str | None,
        joint_with_school: bool = False,
    ) -> UUID:
        self.check_open()
        enquiry_id = uuid4()
        self._record_enquiry(
            actor=actor,
            child_id=self.child_id,
            enquiry_id=enquiry_id,
            made_on=made_on,
            agency=agency,
            method=method,
            outcome=outcome,
            joint_with_school=joint_with_school,
            personal={"notes": notes} if notes else None,
        )
        return enquiry_id

    @event(EnquiryRecorded)
    def _record_enquiry(
        self,
        actor: str,
        child_id: UUID,
        enquiry_id: UUID,
        made_on: date,
        agency: str,
        method: str,
        outcome: str,
        joint_with_school: bool,
        personal: dict[str, Any] | None,
    ) -> None:
        self.enquiries.append(
            Enquiry(enquiry_id, made_on, agency, method, outcome, joint_with_school)
        )
        # Recording an enquiry on a fresh referral means enquiries have started.
        if self.status is CaseStatus.REFERRED:
            self.status = CaseStatus.ENQUIRIES_IN_PROGRESS
            self.status_since = made_on

    class SupportDecisionRecorded(Event):
        decision_id: UUID
        decision: str
        decided_by: str
        automated: bool
        rule_id: str | None
        personal: dict[str, Any]  # the reason

    def record_support_decision(
        self,
        actor: str,
        decision: str,
        reason: str,
        decided_by: str,
        automated: bool,
        rule_id: str | None,
    ) -> UUID:
        self.check_open()
        decision_id = uuid4()
        self._record_support_decision(
            actor=actor,
            child_id=self.child_id,
            decision_id=decision_id,
            decision=decision,
            decided_by=decided_by,
            automated=automated,
            rule_id=rule_id,
            personal={"reason": reason},
        )
        return decision_id

    @event(SupportDecisionRecorded)
    def _record_support_decision(
        self,
        actor: str,
        child_id: UUID,
        decision_id: UUID,
        decision: str,
        decided_by: str,
        automated: bool,
        rule_id: str | None,
        personal: dict[str, Any],
    ) -> None:
        self.decisions.append(
            SupportDecision(decision_id, decision, decided_by, automated, rule_id)
        )

    class AutomatedDecisionReviewed(Event):
        decision_id: UUID
        upheld: bool
        personal: dict[str, Any]  # the reviewer's notes

    def review_automated_decision(
        self, actor: str, decision_id: UUID, upheld: bool, notes: str
    ) -> None:
        decision = self._decision(decision_id)
        if not decision.automated:
            msg = "only a decision made by an automated rule is reviewed this way"
            raise InvalidTransitionError(msg, field="decision_id")
        self._review(
            actor=actor,
            child_id=self.child_id,
            decision_id=decision_id,
            upheld=upheld,
            personal={"notes": notes},
        )

    @event(AutomatedDecisionReviewed)
    def _review(
        self,
        actor: str,
        child_id: UUID,
        decision_id: UUID,
        upheld: bool,
        personal: dict[str, Any],
    ) -> None:
        decision = self._decision(decision_id)
        index = self.decisions.index(decision)
        self.decisions[index] = SupportDecision(
            decision.decision_id,
            decision.decision,
            decision.decided_by,
            decision.automated,
            decision.rule_id,
            reviewed=True,
            upheld=upheld,
        )

    class OfficerAssigned(Event):
        officer: str
        next_action_due: date | None

    def assign_officer(self, actor: str, officer: str, next_action_due: date | None) -> None:
        self._assign_officer(
            actor=actor, child_id=self.child_id, officer=officer, next_action_due=next_action_due
        )

    @event(OfficerAssigned)
    def _assign_officer(
        self, actor: str, child_id: UUID, officer: str, next_action_due: date | None
    ) -> None:
        self.check_open()
        self.assigned_officer = officer
        self.next_action_due = next_action_due

    class Closed(Event):
        outcome: str
        closed_on: date

    def close(self, actor: str, outcome: str, closed_on: date) -> None:
        self._close(actor=actor, child_id=self.child_id, outcome=outcome, closed_on=closed_on)

    @event(Closed)
    def _close(self, actor: str, child_id: UUID, outcome: str, closed_on: date) -> None:
        self.check_open()
        if closed_on < self.referred_on:
            msg = "a case cannot close before it was referred"
            raise InvalidTransitionError(msg, field="closed_on")
        self.status = CaseStatus.CLOSED
        self.status_since = closed_on
        self.outcome = outcome
        self.closed_on = closed_on

    def check_open(self) -> None:
        if self.status is CaseStatus.CLOSED:
            msg = f"case {self.id} is closed"
            raise CaseClosedError(msg, field="case_id")

    def _decision(self, decision_id: UUID) -> SupportDecision:
        for decision in self.decisions:
            if decision.decision_id == decision_id:
                return decision
        raise NotFoundError("SupportDecision", decision_id)

    @property
    def last_enquiry_on(self) -> date | None:
        return max((e.made_on for e in self.enquiries), default=None)
