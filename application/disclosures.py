"""Use cases of sharing: disclose (or refuse, when restricted or shredded) and receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.core import ApplicationCore
from domain import commands as c
from domain.disclosure import Disclosure
from domain.values import RefusalReason


@dataclass(frozen=True)
class DisclosureOutcome:
    """What happened to a disclosure request: made, or refused with a reason."""

    disclosure_id: UUID
    made: bool
    refusal_reason: RefusalReason | None = None


class DisclosureUseCases(ApplicationCore):
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
        refusal: RefusalReason | None = None
        if child.is_shredded:
            refusal = RefusalReason.PERSONAL_DATA_SHREDDED
        elif child.is_restricted and not cmd.lawful_basis.overrides_restriction:
            refusal = RefusalReason.PROCESSING_RESTRICTED
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
