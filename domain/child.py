"""The Child aggregate: a child's record, its school history and its privacy state.

Everything personal travels in each event's ``personal`` part, which the
persistence layer seals under the child's own key; the other fields of an
event (URNs, dates, codes, ids) are the non-personal facts that stay readable
after the key is destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    ChildShreddedError,
    DateBeforeBirthError,
    DestructionDateUnconfirmedError,
    LegalHoldError,
    RestrictionError,
    RollError,
)
from domain.markers import Shredded, Unavailable
from domain.personal import Address, ChildDetails
from domain.values import DeletionGround, ShredReason


@dataclass(frozen=True)
class SchoolSpell:
    """A period on a school's roll (non-personal: a URN and dates)."""

    school_urn: str
    on_roll_from: date | None
    removed_on: date | None = None
    deletion_ground: DeletionGround | None = None


@dataclass(frozen=True)
class ReducedTimetable:
    school_urn: str
    hours_per_week: Decimal
    starts_on: date
    review_on: date


@dataclass(frozen=True)
class Move:
    """A move out of the area: to another local authority, or abroad."""

    moved_on: date
    la_code: str | None
    abroad: bool
    confirmed: bool


def details_from(personal: dict[str, Any] | Unavailable) -> ChildDetails | Unavailable:
    if isinstance(personal, Unavailable):
        return personal
    return ChildDetails.model_validate(personal)


class Child(Aggregate):
    """A child known to the CME service."""

    class Event(Aggregate.Event):
        actor: str

    class Registered(Aggregate.Created, Event):
        personal: dict[str, Any]
        source: str

    @event(Registered)
    def __init__(self, actor: str, personal: dict[str, Any], source: str) -> None:
        self.details: ChildDetails | Unavailable = details_from(personal)
        self.source = source
        self.schools: list[SchoolSpell] = []
        self.reduced_timetable: ReducedTimetable | None = None
        self.move: Move | None = None
        self.restricted_by: UUID | None = None
        self.is_restricted = False
        self.objections: list[UUID] = []
        self.erasure_granted_by: UUID | None = None
        """The erasure request granted; the child is shredded at the next retention run."""
        self.legal_holds: dict[UUID, str] = {}
        self.shredded_at: datetime | None = None
        self.shred_reason: str | None = None
        self.open_case_id: UUID | None = None

    # -- personal details -------------------------------------------------

    class DetailsRectified(Event):
        personal: dict[str, Any]
        changed: list[str]
        request_id: UUID | None

    class DestructionDateMoved(Event):
        """A corrected date of birth moved the day the key is destroyed, as someone confirmed.

        It carries no date (that would give the date of birth away in the
        ledger, which outlives the record): the new one is in the sealed details.
        """

        request_id: UUID | None

    def rectify(
        self,
        actor: str,
        details: ChildDetails,
        request_id: UUID | None,
        confirm_destruction_date: date | None = None,
    ) -> list[str]:
        """Record corrected details; return which fields changed (names, not values).

        A correction that moves the destruction date is refused unless the new
        date is confirmed: a mistyped year could otherwise destroy a record at
        the next retention run, or keep it decades too long.
        """
        self.check_not_shredded()
        current = self.current_details()
        changed = [
            name
            for name in ChildDetails.model_fields
            if getattr(current, name) != getattr(details, name)
        ]
        moved = current.retention_until() != details.retention_until()
        if moved and confirm_destruction_date != details.retention_until():
            msg = (
                "this correction moves the date the record is destroyed: confirm the new "
                "date (confirm_destruction_date, the 25th birthday) to make it"
            )
            raise DestructionDateUnconfirmedError(msg, field="confirm_destruction_date")
        if changed:
            self._rectify(
                actor=actor,
                personal=details.model_dump(mode="json"),
                changed=changed,
                request_id=request_id,
            )
        if moved:
            self._move_destruction_date(actor=actor, request_id=request_id)
        return changed

    @event(DestructionDateMoved)
    def _move_destruction_date(self, actor: str, request_id: UUID | None) -> None:
        pass

    @event(DetailsRectified)
    def _rectify(
        self, actor: str, personal: dict[str, Any], changed: list[str], request_id: UUID | None
    ) -> None:
        self.details = details_from(personal)

    class AddressChanged(Event):
        personal: dict[str, Any]
        effective_from: date
        source: str

    def change_address(
        self, actor: str, address: Address, effective_from: date, source: str
    ) -> None:
        self.check_not_shredded()
        self._change_address(
            actor=actor,
            personal={"address": address.model_dump(mode="json")},
            effective_from=effective_from,
            source=source,
        )

    @event(AddressChanged)
    def _change_address(
        self, actor: str, personal: dict[str, Any], effective_from: date, source: str
    ) -> None:
        if isinstance(self.details, ChildDetails) and not isinstance(personal, Unavailable):
            address = Address.model_validate(personal["address"])
            self.details = self.details.model_copy(update={"address": address})

    # -- school roll ------------------------------------------------------

    class RegisteredAtSchool(Event):
        school_urn: str
        on_roll_from: date

    @event(RegisteredAtSchool)
    def register_at_school(self, actor: str, school_urn: str, on_roll_from: date) -> None:
        if self.current_school() == school_urn:
            msg = f"already on the roll of school {school_urn}"
            raise RollError(msg, field="school_urn")
        self.schools.append(SchoolSpell(school_urn, on_roll_from))
        self.move = None

    class RemovedFromRoll(Event):
        school_urn: str
        removed_on: date
        deletion_ground: str

    @event(RemovedFromRoll)
    def remove_from_roll(
        self, actor: str, school_urn: str, removed_on: date, deletion_ground: str
    ) -> None:
        spell = self._open_spell(school_urn)
        if spell is not None and spell.on_roll_from and removed_on < spell.on_roll_from:
            msg = "removal date is before the date the child joined the roll"
            raise RollError(msg, field="removed_on")
        ground = DeletionGround(deletion_ground)
        if spell is None:
            # A removal notice may be the first the LA hears of this school.
            self.schools.append(SchoolSpell(school_urn, None, removed_on, ground))
        else:
            index = self.schools.index(spell)
            self.schools[index] = SchoolSpell(school_urn, spell.on_roll_from, removed_on, ground)
        if self.reduced_timetable and self.reduced_timetable.school_urn == school_urn:
            self.reduced_timetable = None

    class ReducedTimetableNotified(Event):
        school_urn: str
        hours_per_week: Decimal
        starts_on: date
        review_on: date

    @event(ReducedTimetableNotified)
    def notify_reduced_timetable(
        self,
        actor: str,
        school_urn: str,
        hours_per_week: Decimal,
        starts_on: date,
        review_on: date,
    ) -> None:
        self.reduced_timetable = ReducedTimetable(
            school_urn, Decimal(hours_per_week), starts_on, review_on
        )

    # -- moves ------------------------------------------------------------

    class MovedToAnotherAuthority(Event):
        la_code: str
        moved_on: date
        confirmed: bool

    @event(MovedToAnotherAuthority)
    def record_move_to_authority(
        self, actor: str, la_code: str, moved_on: date, confirmed: bool
    ) -> None:
        self.move = Move(moved_on, la_code, abroad=False, confirmed=confirmed)

    class MovedAbroad(Event):
        personal: dict[str, Any]  # the destination country
        moved_on: date
        confirmed: bool

    def record_move_abroad(
        self, actor: str, destination_country: str, moved_on: date, confirmed: bool
    ) -> None:
        self.check_not_shredded()
        self._record_move_abroad(
            actor=actor,
            personal={"destination_country": destination_country},
            moved_on=moved_on,
            confirmed=confirmed,
        )

    @event(MovedAbroad)
    def _record_move_abroad(
        self, actor: str, personal: dict[str, Any], moved_on: date, confirmed: bool
    ) -> None:
        self.move = Move(moved_on, None, abroad=True, confirmed=confirmed)

    # -- cases -------------------------------------------------------------

    class CaseOpened(Event):
        case_id: UUID

    @event(CaseOpened)
    def note_case_opened(self, actor: str, case_id: UUID) -> None:
        self.open_case_id = case_id

    class CaseClosed(Event):
        case_id: UUID

    @event(CaseClosed)
    def note_case_closed(self, actor: str, case_id: UUID) -> None:
        if self.open_case_id == case_id:
            self.open_case_id = None

    # -- data-subject rights and retention ---------------------------------

    class ProcessingRestricted(Event):
        request_id: UUID | None

    @event(ProcessingRestricted)
    def restrict_processing(self, actor: str, request_id: UUID | None) -> None:
        self.is_restricted = True
        self.restricted_by = request_id

    class RestrictionLifted(Event):
        request_id: UUID | None

    @event(RestrictionLifted)
    def lift_restriction(self, actor: str, request_id: UUID | None) -> None:
        if not self.is_restricted:
            msg = "processing of this child is not restricted"
            raise RestrictionError(msg, field="child_id")
        self.is_restricted = False
        self.restricted_by = None

    class ErasureGranted(Event):
        """Erasure is decided: until the key is destroyed, nothing of the child goes out."""

        request_id: UUID

    @event(ErasureGranted)
    def grant_erasure(self, actor: str, request_id: UUID) -> None:
        self.erasure_granted_by = request_id

    class ObjectionRecorded(Event):
        request_id: UUID

    @event(ObjectionRecorded)
    def record_objection(self, actor: str, request_id: UUID) -> None:
        self.objections.append(request_id)

    class LegalHoldPlaced(Event):
        hold_id: UUID
        authority: str
        personal: dict[str, Any]  # the reason, which may describe the child

    def place_legal_hold(self, actor: str, hold_id: UUID, reason: str, authority: str) -> None:
        self.check_not_shredded()
        if hold_id in self.legal_holds:
            msg = f"legal hold {hold_id} is already in place"
            raise LegalHoldError(msg, field="hold_id")
        self._place_legal_hold(
            actor=actor, hold_id=hold_id, authority=authority, personal={"reason": reason}
        )

    @event(LegalHoldPlaced)
    def _place_legal_hold(
        self, actor: str, hold_id: UUID, authority: str, personal: dict[str, Any]
    ) -> None:
        self.legal_holds[hold_id] = authority

    class LegalHoldReleased(Event):
        hold_id: UUID

    @event(LegalHoldReleased)
    def release_legal_hold(self, actor: str, hold_id: UUID) -> None:
        if hold_id not in self.legal_holds:
            msg = f"no legal hold {hold_id} is in place"
            raise LegalHoldError(msg, field="hold_id")
        del self.legal_holds[hold_id]

    class PersonalDataRead(Event):
        """Someone read this child's decrypted data (as recorded before the AccessLog).

        Reads now go to :class:`domain.access_log.AccessLog`; this class stays
        so that stores holding earlier reads still replay.
        """

        purpose: str

    class ShreddingDeferred(Event):
        hold_ids: list[UUID]
        due_on: date

    @event(ShreddingDeferred)
    def defer_shredding(self, actor: str, hold_ids: list[UUID], due_on: date) -> None:
        self.deferred_for = sorted(hold_ids, key=str)

    def shredding_deferral_is_news(self) -> bool:
        """Log a deferral once per set of holds, not every day the job runs."""
        return sorted(self.legal_holds, key=str) != getattr(self, "deferred_for", [])

    class PersonalDataShredded(Event):
        """The child's personal data is unreadable everywhere from now on.

        Version 2 added ``quarantine_erased``: the ids of the child's quarantined
        messages the cascade erased; version 1 events read as none.
        """

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("quarantine_erased", [])

        reason: str
        shredded_at: datetime
        quarantine_erased: list[str]

    @event(PersonalDataShredded)
    def record_shredded(
        self,
        actor: str,
        reason: str,
        shredded_at: datetime,
        quarantine_erased: list[str] | None = None,
    ) -> None:
        if self.legal_holds:
            msg = "a legal hold defers destruction of this child's data"
            raise LegalHoldError(msg, field="child_id")
        ShredReason(reason)
        self.shredded_at = shredded_at
        self.shred_reason = reason
        self.details = Shredded(self.id, shredded_at, reason)

    # -- queries and rules ---------------------------------------------------

    @property
    def is_shredded(self) -> bool:
        return self.shredded_at is not None or isinstance(self.details, Shredded)

    @property
    def on_legal_hold(self) -> bool:
        return bool(self.legal_holds)

    def current_school(self) -> str | None:
        spell = self.schools[-1] if self.schools else None
        return spell.school_urn if spell and spell.removed_on is None else None

    def _open_spell(self, school_urn: str) -> SchoolSpell | None:
        for spell in reversed(self.schools):
            if spell.school_urn == school_urn and spell.removed_on is None:
                return spell
        return None

    def current_details(self) -> ChildDetails:
        self.check_not_shredded()
        assert isinstance(self.details, ChildDetails)  # noqa: S101 - narrowed by the check
        return self.details

    def check_not_shredded(self) -> None:
        if self.is_shredded:
            msg = f"child {self.id}'s personal data has been shredded"
            raise ChildShreddedError(msg, field="child_id")

    def check_after_birth(self, day: date, field: str) -> None:
        """A dated step about this child cannot come before they were born (the store keeps it)."""
        if day < self.current_details().date_of_birth:
            msg = "is before the child was born"
            raise DateBeforeBirthError(f"{field} {msg}", field=field)
