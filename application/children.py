"""Use cases about a child's record: register, match, rectify, roll, moves, holds, reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from application.core import ApplicationCore
from domain import commands as c
from domain.child import Child
from domain.errors import (
    ChildNotFoundError,
    DuplicateChildError,
    RestrictionUnderConsiderationError,
)
from domain.rights_request import RightsRequest
from domain.values import ShredReason


class ChildrenUseCases(ApplicationCore):
    def register_child(self, command: c.RegisterChild) -> UUID:
        return self.register_children([command])[0]

    def register_children(
        self,
        commands: Sequence[c.RegisterChild],
        sender_refs: Sequence[str | None] | None = None,
    ) -> list[UUID]:
        """Register many children with one key-store round trip and one transaction.

        ``sender_refs`` are upstream systems' own references for each child
        (``sender|reference``), indexed so later messages find the same child.
        """
        valid = [self._valid(c.RegisterChild, command) for command in commands]
        refs = list(sender_refs) if sender_refs is not None else [None] * len(valid)
        upns = [cmd.details.upn for cmd in valid if cmd.details.upn]
        if len(set(upns)) != len(upns):
            msg = "two children in one batch share a UPN"
            raise DuplicateChildError(msg, field="details.upn")
        for upn in upns:
            if self.find_child_by_upn(upn):
                msg = "a child with this UPN is already registered"
                raise DuplicateChildError(msg, field="details.upn")
        children = [
            Child(
                actor=cmd.actor,
                personal=cmd.details.model_dump(mode="json"),
                source=cmd.source.value,
            )
            for cmd in valid
        ]
        keys = [
            (child.id, cmd.details.retention_until())
            for child, cmd in zip(children, valid, strict=True)
        ]
        with self._unit() as uow:
            uow.new_keys.extend(keys)
            self.save(*children)
            for child, cmd, ref in zip(children, valid, refs, strict=True):
                details = cmd.details
                rows = self.blind_index.entries(
                    details.upn,
                    details.legal_surname,
                    details.date_of_birth,
                    details.legal_forenames,
                )
                if ref:
                    rows.append(self.blind_index.sender_ref_entry(ref))
                self._index_later(child.id, rows)
        return [child.id for child in children]

    def find_child_by_upn(self, upn: str) -> UUID | None:
        return self._first_live(self._find(*self.blind_index.upn_entry(upn)))

    def find_child_by_surname_and_dob(
        self, surname: str, date_of_birth: date, forenames: str
    ) -> UUID | None:
        entry = self.blind_index.surname_dob_entry(surname, date_of_birth, forenames)
        return self._first_live(self._find(*entry))

    def find_child_by_identity(
        self, upn: str | None, surname: str, date_of_birth: date, forenames: str
    ) -> UUID | None:
        """By UPN, else surname, date of birth and forenames: matching without our own id."""
        found = self.find_child_by_upn(upn) if upn else None
        if found is None:
            found = self.find_child_by_surname_and_dob(surname, date_of_birth, forenames)
        return found

    def find_child_by_sender_ref(self, sender_ref: str) -> UUID | None:
        return self._first_live(self._find(*self.blind_index.sender_ref_entry(sender_ref)))

    def remember_sender_ref(self, child_id: UUID, sender_ref: str) -> None:
        """Index an upstream system's own reference for a child we matched another way."""
        with self._unit():
            self._index_later(child_id, [self.blind_index.sender_ref_entry(sender_ref)])

    def _first_live(self, candidates: list[UUID]) -> UUID | None:
        # An index row can outlive a failed save; only a stored, unshredded child matches.
        for child_id in candidates:
            try:
                child = self.get_child(child_id)
            except ChildNotFoundError:
                continue
            if not child.is_shredded:
                return child_id
        return None

    def rectify_child_details(self, command: c.RectifyChildDetails) -> list[str]:
        """Correct a record; returns the names of the fields that changed."""
        cmd = self._valid(c.RectifyChildDetails, command)
        child = self.get_child(cmd.child_id)
        self.check_request_of(child, cmd.request_id)
        before = child.current_details()
        changed = child.rectify(
            cmd.actor, cmd.details, cmd.request_id, cmd.confirm_destruction_date
        )
        if not changed:
            return changed
        with self._unit() as uow:
            self.save(child)
            after = cmd.details
            if {"upn", "legal_surname", "legal_forenames", "date_of_birth"} & set(changed):
                # The old identifiers must stop matching; senders' own references stay.
                rows = self.blind_index.entries(
                    after.upn, after.legal_surname, after.date_of_birth, after.legal_forenames
                )
                uow.reindexed.add(child.id)
                uow.index_rows[child.id] = rows
                for row in rows:
                    uow.pending_index.setdefault(row, []).append(child.id)
            if before.date_of_birth != after.date_of_birth:
                uow.expiry_changes[child.id] = after.retention_until()
        return changed

    def change_address(self, command: c.ChangeAddress) -> None:
        cmd = self._valid(c.ChangeAddress, command)
        child = self.get_child(cmd.child_id)
        child.change_address(cmd.actor, cmd.address, cmd.effective_from, cmd.source.value)
        self.save(child)

    def record_school_registration(self, command: c.RecordSchoolRegistration) -> None:
        cmd = self._valid(c.RecordSchoolRegistration, command)
        child = self.get_child(cmd.child_id)
        child.register_at_school(
            actor=cmd.actor, school_urn=cmd.school_urn, on_roll_from=cmd.on_roll_from
        )
        self.save(child)

    def remove_from_roll(self, command: c.RemoveFromRoll) -> None:
        cmd = self._valid(c.RemoveFromRoll, command)
        child = self.get_child(cmd.child_id)
        child.remove_from_roll(
            actor=cmd.actor,
            school_urn=cmd.school_urn,
            removed_on=cmd.removed_on,
            deletion_ground=cmd.deletion_ground.value,
        )
        self.save(child)

    def notify_reduced_timetable(self, command: c.NotifyReducedTimetable) -> None:
        cmd = self._valid(c.NotifyReducedTimetable, command)
        child = self.get_child(cmd.child_id)
        child.notify_reduced_timetable(
            actor=cmd.actor,
            school_urn=cmd.school_urn,
            hours_per_week=cmd.hours_per_week,
            starts_on=cmd.starts_on,
            review_on=cmd.review_on,
        )
        self.save(child)

    def record_move_to_another_authority(self, command: c.RecordMoveToAnotherAuthority) -> None:
        cmd = self._valid(c.RecordMoveToAnotherAuthority, command)
        child = self.get_child(cmd.child_id)
        child.record_move_to_authority(
            actor=cmd.actor, la_code=cmd.la_code, moved_on=cmd.moved_on, confirmed=cmd.confirmed
        )
        self.save(child)

    def record_move_abroad(self, command: c.RecordMoveAbroad) -> None:
        cmd = self._valid(c.RecordMoveAbroad, command)
        child = self.get_child(cmd.child_id)
        child.record_move_abroad(cmd.actor, cmd.destination_country, cmd.moved_on, cmd.confirmed)
        self.save(child)

    def place_legal_hold(self, command: c.PlaceLegalHold) -> None:
        cmd = self._valid(c.PlaceLegalHold, command)
        child = self.get_child(cmd.child_id)
        child.place_legal_hold(cmd.actor, cmd.hold_id, cmd.reason, cmd.authority)
        self.save(child)

    def release_legal_hold(self, command: c.ReleaseLegalHold) -> None:
        cmd = self._valid(c.ReleaseLegalHold, command)
        child = self.get_child(cmd.child_id)
        child.release_legal_hold(actor=cmd.actor, hold_id=cmd.hold_id)
        self.save(child)

    def lift_restriction(self, command: c.LiftRestriction) -> None:
        cmd = self._valid(c.LiftRestriction, command)
        child = self.get_child(cmd.child_id)
        self.check_request_of(child, cmd.request_id)
        placed_by = child.restricted_by if child.is_restricted else None
        if placed_by is not None and self._get(RightsRequest, placed_by).decision is None:
            msg = (
                "the restriction stands while the rights request that placed it is "
                "considered; deciding that request lifts it"
            )
            raise RestrictionUnderConsiderationError(msg, field="child_id")
        child.lift_restriction(actor=cmd.actor, request_id=cmd.request_id)
        self.save(child)

    def record_personal_data_shredded(
        self,
        child_id: UUID,
        reason: ShredReason,
        actor: str,
        at: datetime | None = None,
        quarantine_erased: Sequence[str] = (),
    ) -> None:
        """Record (after the key is destroyed) that this child's personal data is gone."""
        child = self.get_child(child_id)
        if child.shredded_at is not None:
            return
        child.record_shredded(
            actor=actor,
            reason=reason.value,
            shredded_at=at or self.now(),
            quarantine_erased=sorted(quarantine_erased),
        )
        self.save(child)
