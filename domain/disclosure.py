"""The Disclosure aggregate: one sharing of a child's information, out or in.

A disclosure out is either made or refused, and a refusal is itself recorded:
the ledger must show what was asked for and why it was not given. Recipients,
purposes, lawful bases and the categories of data are non-personal facts that
stay in clear; a free-text summary of what was shared is sealed.

Through the API a disclosure goes out only on two people's word: a caseworker
requests it, stating why the data is necessary, and a senior officer who is
not the requester approves or refuses it. The rules refuse it by themselves
when the child's processing is restricted (unless the basis overrides that)
or their personal data is shredded, at the request and again at approval.
Each step's event repeats what is being shared, so each ledger entry stands
on its own.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import DisclosureStateError, TwoPersonRuleError
from domain.values import DataCategory, LawfulBasis, RefusalReason

RULES = "system:disclosure-rules"
"""The actor of a refusal the rules made by themselves (restriction, shredding)."""


class Disclosure(Aggregate):
    """Information about a child shared with, or received from, another agency."""

    class Event(Aggregate.Event):
        actor: str
        child_id: UUID

    class Made(Aggregate.Created, Event):
        case_id: UUID | None
        recipient_agency: str
        recipient_organisation: str
        purpose: str
        lawful_basis: str
        categories: list[str]
        requested_by: str
        approved_by: str
        disclosed_on: date
        personal: dict[str, Any] | None  # a summary of what was shared

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.direction = "out"
            aggregate.outcome = "made"
            aggregate.counterparty_agency = self.recipient_agency
            aggregate.counterparty_organisation = self.recipient_organisation
            aggregate.purpose = self.purpose
            aggregate.lawful_basis = LawfulBasis(self.lawful_basis)
            aggregate.on = self.disclosed_on

    class Refused(Aggregate.Created, Event):
        case_id: UUID | None
        recipient_agency: str
        recipient_organisation: str
        purpose: str
        lawful_basis: str
        categories: list[str]
        requested_by: str
        refused_on: date
        refusal_reason: str

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.direction = "out"
            aggregate.outcome = "refused"
            aggregate.counterparty_agency = self.recipient_agency
            aggregate.counterparty_organisation = self.recipient_organisation
            aggregate.purpose = self.purpose
            aggregate.lawful_basis = LawfulBasis(self.lawful_basis)
            aggregate.on = self.refused_on
            aggregate.refusal_reason = self.refusal_reason

    class Received(Aggregate.Created, Event):
        case_id: UUID | None
        source_agency: str
        source_organisation: str
        categories: list[str]
        received_on: date
        personal: dict[str, Any] | None  # what the information said

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.direction = "in"
            aggregate.outcome = "received"
            aggregate.counterparty_agency = self.source_agency
            aggregate.counterparty_organisation = self.source_organisation
            aggregate.on = self.received_on

    class Requested(Aggregate.Created, Event):
        case_id: UUID | None
        recipient_agency: str
        recipient_organisation: str
        purpose: str
        lawful_basis: str
        categories: list[str]
        requested_on: date
        personal: dict[str, Any] | None  # why the data is necessary (None once shredded)

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.direction = "out"
            aggregate.outcome = "requested"
            aggregate.counterparty_agency = self.recipient_agency
            aggregate.counterparty_organisation = self.recipient_organisation
            aggregate.purpose = self.purpose
            aggregate.lawful_basis = LawfulBasis(self.lawful_basis)
            aggregate.requested_by = self.actor
            aggregate.requested_on = self.requested_on
            personal = self.personal if isinstance(self.personal, dict) else {}
            aggregate.necessity = personal.get("necessity")  # None once shredded

    class Approved(Event):
        """Approved by a second person, and so made."""

        case_id: UUID | None
        recipient_agency: str
        recipient_organisation: str
        purpose: str
        lawful_basis: str
        categories: list[str]
        requested_by: str
        disclosed_on: date

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.outcome = "made"
            aggregate.decided_by = self.actor
            aggregate.on = self.disclosed_on

    class RequestRefused(Event):
        """Refused by a second person, or by the rules (actor ``system:disclosure-rules``).

        A refusal by the rules names, as ``triggered_by``, the person whose
        request or approval they refused: every step keeps its people.
        """

        case_id: UUID | None
        recipient_agency: str
        recipient_organisation: str
        purpose: str
        lawful_basis: str
        categories: list[str]
        requested_by: str
        refused_on: date
        refusal_reason: str
        triggered_by: str | None
        personal: dict[str, Any] | None  # the approver's reasons, when given

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.outcome = "refused"
            aggregate.decided_by = self.actor
            aggregate.on = self.refused_on
            aggregate.refusal_reason = self.refusal_reason

    def __init__(self, child_id: UUID, case_id: UUID | None, categories: list[str]) -> None:
        self.child_id = child_id
        self.case_id = case_id
        self.categories = [DataCategory(c) for c in categories]
        self.direction = ""
        self.outcome = ""
        self.counterparty_agency = ""
        self.counterparty_organisation = ""
        self.purpose: str | None = None
        self.lawful_basis: LawfulBasis | None = None
        self.on: date | None = None
        self.refusal_reason: str | None = None
        self.requested_by: str | None = None
        self.requested_on: date | None = None
        self.decided_by: str | None = None
        self.necessity: str | None = None

    @classmethod
    def make(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Made, **fields)

    @classmethod
    def refuse(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Refused, **fields)

    @classmethod
    def receive(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Received, **fields)

    @classmethod
    def request(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Requested, **fields)

    @property
    def awaiting_decision(self) -> bool:
        return self.outcome == "requested"

    def _shared_facts(self) -> dict[str, Any]:
        """What is being shared, as each step's event repeats it."""
        return {
            "child_id": self.child_id,
            "case_id": self.case_id,
            "recipient_agency": self.counterparty_agency,
            "recipient_organisation": self.counterparty_organisation,
            "purpose": self.purpose,
            "lawful_basis": self.lawful_basis.value if self.lawful_basis else "",
            "categories": [category.value for category in self.categories],
            "requested_by": self.requested_by,
        }

    @property
    def basis(self) -> LawfulBasis:
        if self.lawful_basis is None:  # pragma: no cover - every request names its basis
            msg = "this disclosure names no lawful basis"
            raise DisclosureStateError(msg, field="lawful_basis")
        return self.lawful_basis

    def check_decider(self, actor: str) -> None:
        """A decision needs a request waiting for one, and someone other than its requester."""
        if not self.awaiting_decision:
            msg = f"this disclosure is not awaiting a decision (it is {self.outcome})"
            raise DisclosureStateError(msg, field="disclosure_id")
        if actor == self.requested_by:
            msg = "a disclosure must be decided by someone other than its requester"
            raise TwoPersonRuleError(msg, field="actor")

    def _check_not_before_request(self, on: date, field: str) -> None:
        if self.requested_on is not None and on < self.requested_on:
            msg = "a disclosure cannot be decided before it was requested"
            raise DisclosureStateError(msg, field=field)

    def approve(self, actor: str, approved_on: date) -> None:
        self.check_decider(actor)
        self._check_not_before_request(approved_on, "approved_on")
        self.trigger_event(
            self.Approved, actor=actor, disclosed_on=approved_on, **self._shared_facts()
        )

    def refuse_request(self, actor: str, refused_on: date, reasons: str | None) -> None:
        """A second person's refusal; ``reasons`` are sealed (None once the child is shredded)."""
        self.check_decider(actor)
        self._refuse(actor, refused_on, RefusalReason.REFUSED_BY_APPROVER, None, reasons)

    def refuse_by_rules(self, reason: RefusalReason, on: date, triggered_by: str) -> None:
        """The rules' own refusal, of ``triggered_by``'s request or approval."""
        if not self.awaiting_decision:
            msg = f"this disclosure is not awaiting a decision (it is {self.outcome})"
            raise DisclosureStateError(msg, field="disclosure_id")
        self._refuse(RULES, on, reason, triggered_by, None)

    def _refuse(
        self,
        actor: str,
        on: date,
        reason: RefusalReason,
        triggered_by: str | None,
        reasons: str | None,
    ) -> None:
        self._check_not_before_request(on, "refused_on")
        self.trigger_event(
            self.RequestRefused,
            actor=actor,
            refused_on=on,
            refusal_reason=reason.value,
            triggered_by=triggered_by,
            personal={"reasons": reasons} if reasons else None,
            **self._shared_facts(),
        )
