"""Use cases of sharing: request, approve or refuse, disclose, receive.

The rules refuse by themselves, and record it, when the child's processing is
restricted (unless the basis overrides restriction under UK GDPR Art 18(2)),
their erasure is granted, or their personal data is shredded; they are
checked at the request and again at approval, since any can happen between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.access_log import AccessLogUseCases
from domain import commands as c
from domain.child import Child
from domain.disclosure import Disclosure
from domain.values import LawfulBasis, RefusalReason


@dataclass(frozen=True)
class DisclosureOutcome:
    """What happened to a disclosure request: made, or refused with a reason."""

    disclosure_id: UUID
    made: bool
    refusal_reason: RefusalReason | None = None

    @property
    def status(self) -> str:
        return "made" if self.made else "refused" if self.refusal_reason else "requested"


def refused_by_rules(child: Child, basis: LawfulBasis) -> RefusalReason | None:
    """Why the rules refuse any sharing of this child's data under ``basis``, if they do."""
    if child.is_shredded:
        return RefusalReason.PERSONAL_DATA_SHREDDED
    if child.erasure_granted_by is not None:  # shredded at the next retention run
        return RefusalReason.ERASURE_GRANTED
    if child.is_restricted and not basis.overrides_restriction:
        return RefusalReason.PROCESSING_RESTRICTED
    return None


class DisclosureUseCases(AccessLogUseCases):
    def make_disclosure(self, command: c.MakeDisclosure) -> DisclosureOutcome:
        """Share information, unless the child's processing is restricted (then refuse).

        A restriction is overridden only by a basis that UK GDPR Art 18(2)
        allows; a refusal is recorded as an event like a disclosure.
        """
        cmd = self._valid(c.MakeDisclosure, command)
        child = self.get_child(cmd.child_id)
        self.check_case_of(child, cmd.case_id)
        common: dict[str, Any] = {
            "actor": cmd.actor,
            "child_id": cmd.child_id,
            "case_id": cmd.case_id,
            "recipient_agency": cmd.recipient_agency.value,
            "recipient_organisation": cmd.recipient_organisation,
            "purpose": cmd.purpose.value,
            "lawful_basis": cmd.lawful_basis.value,
            "categories": [category.value for category in cmd.categories],
            "requested_by": cmd.requested_by,
        }
        refusal = refused_by_rules(child, cmd.lawful_basis)
        if refusal is not None:
            refused = Disclosure.refuse(
                **common, refused_on=cmd.disclosed_on, refusal_reason=refusal.value
            )
            self.save(refused)
            return DisclosureOutcome(refused.id, made=False, refusal_reason=refusal)
        made = Disclosure.make(
            **common,
            approved_by=cmd.approved_by,
            disclosed_on=cmd.disclosed_on,
            personal={"summary": cmd.summary} if cmd.summary else None,
        )
        self.save(made)
        return DisclosureOutcome(made.id, made=True)

    def request_disclosure(self, command: c.RequestDisclosure) -> DisclosureOutcome:
        """A caseworker's request: awaiting a second person, or refused by the rules now."""
        cmd = self._valid(c.RequestDisclosure, command)
        child = self.get_child(cmd.child_id)
        self.check_case_of(child, cmd.case_id)
        refusal = refused_by_rules(child, cmd.lawful_basis)
        requested = Disclosure.request(
            actor=cmd.actor,
            child_id=cmd.child_id,
            case_id=cmd.case_id,
            recipient_agency=cmd.recipient_agency.value,
            recipient_organisation=cmd.recipient_organisation,
            purpose=cmd.purpose.value,
            lawful_basis=cmd.lawful_basis.value,
            categories=[category.value for category in cmd.categories],
            requested_on=cmd.requested_on,
            # A shredded child has no key to seal under: the necessity is not kept.
            personal=None if child.is_shredded else {"necessity": cmd.necessity},
        )
        if refusal is not None:
            requested.refuse_by_rules(refusal, cmd.requested_on, triggered_by=cmd.actor)
        self.save(requested)
        return DisclosureOutcome(requested.id, made=False, refusal_reason=refusal)

    def approve_disclosure(self, command: c.ApproveDisclosure) -> DisclosureOutcome:
        """A second person's approval: the disclosure is made, unless the rules now refuse it."""
        cmd = self._valid(c.ApproveDisclosure, command)
        disclosure = self.get_disclosure(cmd.disclosure_id)
        disclosure.check_decider(cmd.actor)  # the two-person rule before the rules' own
        refusal = refused_by_rules(self.get_child(disclosure.child_id), disclosure.basis)
        if refusal is not None:
            disclosure.refuse_by_rules(refusal, cmd.approved_on, triggered_by=cmd.actor)
        else:
            disclosure.approve(cmd.actor, cmd.approved_on)
        self.save(disclosure)
        return DisclosureOutcome(disclosure.id, made=refusal is None, refusal_reason=refusal)

    def refuse_disclosure(self, command: c.RefuseDisclosure) -> DisclosureOutcome:
        """A second person's refusal, with reasons (not kept once the child is shredded)."""
        cmd = self._valid(c.RefuseDisclosure, command)
        disclosure = self.get_disclosure(cmd.disclosure_id)
        child = self.get_child(disclosure.child_id)
        reasons = None if child.is_shredded else cmd.reasons  # no key left to seal them
        disclosure.refuse_request(cmd.actor, cmd.refused_on, reasons)
        self.save(disclosure)
        return DisclosureOutcome(
            disclosure.id, made=False, refusal_reason=RefusalReason.REFUSED_BY_APPROVER
        )

    def record_information_received(self, command: c.RecordInformationReceived) -> UUID:
        cmd = self._valid(c.RecordInformationReceived, command)
        child = self.get_child(cmd.child_id)
        child.check_not_shredded()
        self.check_case_of(child, cmd.case_id)
        received = Disclosure.receive(
            actor=cmd.actor,
            child_id=cmd.child_id,
            case_id=cmd.case_id,
            source_agency=cmd.source_agency.value,
            source_organisation=cmd.source_organisation,
            categories=[category.value for category in cmd.categories],
            received_on=cmd.received_on,
            personal={"content": cmd.content} if cmd.content else None,
        )
        self.save(received)
        return received.id

    def get_disclosure(self, disclosure_id: UUID) -> Disclosure:
        return self._get(Disclosure, disclosure_id)

    def read_disclosure(self, disclosure_id: UUID, actor: str) -> Disclosure:
        """The disclosure as a person reads it: the necessity opened with the key as stored now.

        This process's cached key may outlive the key itself for a while
        (another process shreds the child); a person is shown only what the
        key store can still open, and the read is recorded when it opens.
        """
        disclosure = self.get_disclosure(disclosure_id)
        if disclosure.necessity is None:
            return disclosure
        self.data_keys.forget([disclosure.child_id])  # ask the key store, not the cache
        disclosure = self.get_disclosure(disclosure_id)
        if disclosure.necessity is not None:
            self.record_personal_data_read(disclosure.child_id, actor, "disclosure request")
        return disclosure
