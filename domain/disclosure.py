"""The Disclosure aggregate: one sharing of a child's information, out or in.

A disclosure out is either made or refused, and a refusal is itself recorded:
the ledger must show what was asked for and why it was not given. Recipients,
purposes, lawful bases and the categories of data are non-personal facts that
stay in clear; a free-text summary of what was shared is sealed.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.values import DataCategory, LawfulBasis


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

    @classmethod
    def make(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Made, **fields)

    @classmethod
    def refuse(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Refused, **fields)

    @classmethod
    def receive(cls, **fields: Any) -> Disclosure:
        return cls._create(cls.Received, **fields)
