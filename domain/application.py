"""The CME application: the use cases, on the eventsourcing library's Application.

Each method takes a validated command, loads the aggregates it needs, calls
their command methods and saves the new events in one transaction. The mapper
that seals personal data is built here from the injected data keys, so every
path into the event store goes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    Mapper,
    ProcessRecorder,
    Recording,
    Tracking,
    Transcoder,
)

from crypto_shredding.batch_writes import BATCH_WRITES, AtomicBatchWrites, BatchWrites
from crypto_shredding.blind_index import SURNAME_DOB, UPN, BlindIndex
from crypto_shredding.data_keys import DataKeys
from crypto_shredding.mapper import PersonalDataMapper
from domain import commands as c
from domain.case import Case
from domain.child import Child
from domain.disclosure import Disclosure
from domain.errors import (
    CaseNotFoundError,
    ChildNotFoundError,
    DisclosureNotFoundError,
    DuplicateChildError,
    NotFoundError,
    RequestStateError,
    RightsRequestNotFoundError,
)
from domain.rights_request import RightsRequest
from domain.stored_reads import recorded_among, select_many
from domain.transcoding import cme_transcoder
from domain.values import RefusalReason, RequestDecision, RightsRequestType, ShredReason

TCommand = TypeVar("TCommand", bound=c.Command)
RESTRICTS_WHILE_CONSIDERED = {
    RightsRequestType.RESTRICTION,
    RightsRequestType.RECTIFICATION,
    RightsRequestType.OBJECTION,
}
TAggregate = TypeVar("TAggregate", Child, Case, Disclosure, RightsRequest)


def cme_mapper(data_keys: DataKeys) -> PersonalDataMapper:
    """A mapper for readers outside the application (projectors, auditors)."""
    return PersonalDataMapper(cme_transcoder(), data_keys)


@dataclass
class _UnitOfWork:
    """Changes of a batch of commands, written in one transaction by :meth:`CMEApplication.batch`.

    Aggregates are kept in an identity map so a later command in the batch sees
    an earlier one's changes; new data keys and blind-index rows wait here so a
    whole poll of upstream messages costs one round trip to each store.
    """

    tracking: Tracking | None
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    new_keys: list[tuple[UUID, date]] = field(default_factory=list)
    expiry_changes: dict[UUID, date | None] = field(default_factory=dict)
    index_rows: dict[UUID, list[tuple[str, bytes]]] = field(default_factory=dict)
    reindexed: set[UUID] = field(default_factory=set)
    pending_index: dict[tuple[str, bytes], list[UUID]] = field(default_factory=dict)
    known_index: dict[tuple[str, bytes], list[UUID]] | None = None
    known_entries: set[tuple[str, bytes]] = field(default_factory=set)


@dataclass(frozen=True)
class DisclosureOutcome:
    """What happened to a disclosure request: made, or refused with a reason."""

    disclosure_id: UUID
    made: bool
    refusal_reason: RefusalReason | None = None


def replay_aggregate(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event runtime Protocol check.

    ``isinstance`` against a runtime-checkable Protocol cost more per event than
    applying the event; the events here are the library's own aggregate events.
    """
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class CMERepository(Repository[UUID]):
    """The library's repository, projecting with :func:`replay_aggregate`."""

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: Any = replay_aggregate,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
    ) -> Any:
        return super().get(
            aggregate_id,
            version=version,
            projector_func=projector_func,
            fastforward_skipping=fastforward_skipping,
            deepcopy_from_cache=deepcopy_from_cache,
        )


class CMEApplication(Application[UUID]):
    """Children Missing Education: children, cases, disclosures and rights requests."""

    name = "CME"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        data_keys: DataKeys,
        blind_index: BlindIndex,
        today: Callable[[], date] = date.today,
        now: Callable[[], datetime] | None = None,
        seal_personal: bool = True,
    ) -> None:
        self.data_keys = data_keys
        self.blind_index = blind_index
        self.today = today
        # One clock for the application and the jobs it serves; a test that sets
        # "today" gets a "now" on that day too.
        self.now = now or (
            (lambda: datetime.now(UTC))
            if today is date.today
            else (lambda: datetime.combine(today(), datetime.now(UTC).timetz()))
        )
        self._seal_personal = seal_personal
        self._uow: _UnitOfWork | None = None
        super().__init__(env)

    def construct_repository(self) -> Repository[UUID]:
        return CMERepository(event_store=self.events, snapshot_store=self.snapshots)

    def construct_recorder(self) -> ProcessRecorder:
        """A recorder that can store a consumer's position with the events it caused."""
        return self.factory.process_recorder()

    # -- batches -----------------------------------------------------------------

    @contextmanager
    def batch(self, tracking: Tracking | None = None) -> Iterator[None]:
        """Apply many commands, then write them (and ``tracking``) in one transaction.

        If the block raises, nothing is written: the caller may retry the batch
        without the message that failed.
        """
        if self._uow is not None:
            msg = "batches do not nest"
            raise RuntimeError(msg)
        self._uow = _UnitOfWork(tracking)
        try:
            yield
            uow = self._uow
        finally:
            self._uow = None
        self._flush(uow)

    @contextmanager
    def _unit(self) -> Iterator[_UnitOfWork]:
        """The current batch, or a batch of one use case when none is open."""
        if self._uow is not None:
            yield self._uow
            return
        with self.batch():
            yield self._current()

    def _current(self) -> _UnitOfWork:
        if self._uow is None:  # pragma: no cover - callers open a unit first
            msg = "this write belongs to a batch (see _unit)"
            raise RuntimeError(msg)
        return self._uow

    def _flush(self, uow: _UnitOfWork) -> None:
        """Write the batch: events, position, keys and index rows in one transaction.

        New data keys are made and cached first (the mapper seals the new
        children's events with them); a store whose recorder cannot write
        them in the events' transaction gets the keys before the events and
        the index rows after, so a failure there leaves an unused key rather
        than an unfindable child.
        """
        writes = BatchWrites(
            new_keys=self.data_keys.prepare_many(uow.new_keys),
            index_rows=[
                (child_id, kind, digest)
                for child_id, rows in uow.index_rows.items()
                for kind, digest in rows
            ],
            index_drops=[(c, kind) for c in sorted(uow.reindexed) for kind in (UPN, SURNAME_DOB)],
            expiry_changes=uow.expiry_changes,
        )
        atomic = isinstance(self.recorder, AtomicBatchWrites)
        try:
            if not atomic and writes.new_keys:
                self.data_keys.store.add(writes.new_keys)
            processing: ProcessingEvent[UUID] = ProcessingEvent(uow.tracking)
            # Only aggregates with something new: the library checks each one it is
            # given against a runtime Protocol, which costs more than the check is worth
            # for the many a batch only read.
            changed = [a for a in uow.aggregates.values() if getattr(a, "pending_events", True)]
            if atomic and writes:
                processing.collect_events(*changed, **{BATCH_WRITES: writes})
            else:
                processing.collect_events(*changed)
            if processing.events or uow.tracking is not None or (atomic and writes):
                recordings = self._record(processing)
                self._notify(recordings)
        except BaseException:
            self.data_keys.forget(k.child_id for k in writes.new_keys)
            raise
        if not atomic:
            self._write_around(writes)

    def _write_around(self, writes: BatchWrites) -> None:
        for child_id, kind in writes.index_drops:
            self.blind_index.store.remove_entries(child_id, kind)
        self.blind_index.store.add_many(writes.index_rows)
        for child_id, expires_on in writes.expiry_changes.items():
            self.data_keys.store.set_expiry(child_id, expires_on)

    def prefetch_index(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Look up many blind-index entries at once for the current batch."""
        if self._uow is None:
            return
        found = self.blind_index.store.find_many(entries)
        self._uow.known_entries.update(entries)
        self._uow.known_index = {**(self._uow.known_index or {}), **found}

    def prefetch(
        self, ids: Sequence[UUID], subjects: Sequence[UUID] = (), *, withhold_personal: bool = False
    ) -> None:
        """Load many aggregates for the current batch with one query.

        ``subjects`` are the children whose keys those aggregates' events need.
        With ``withhold_personal`` no personal part is decrypted (for work that
        needs only the facts, like the retention job).
        """
        if self._uow is None:
            return
        wanted = [i for i in dict.fromkeys(ids) if i not in self._uow.aggregates]
        if not wanted:
            return
        stored = select_many(self.recorder, wanted)
        if self._seal_personal and not withhold_personal:
            self.data_keys.load({*subjects, *stored}, missing_ok=True)
        mapper = self.mapper
        flat = [event for events in stored.values() for event in events]
        domain_events = (
            mapper.to_domain_events(flat, withhold_personal=withhold_personal)
            if isinstance(mapper, PersonalDataMapper)
            else [mapper.to_domain_event(e) for e in flat]
        )
        start = 0
        for ident, events in stored.items():
            aggregate = replay_aggregate(None, domain_events[start : start + len(events)])
            start += len(events)
            if aggregate is not None:
                self._uow.aggregates[ident] = aggregate

    def known_children(self) -> list[UUID]:
        """Children the current batch's index prefetch found."""
        if self._uow is None or self._uow.known_index is None:
            return []
        return list(dict.fromkeys(c for ids in self._uow.known_index.values() for c in ids))

    def cached_open_case(self, child_id: UUID) -> UUID | None:
        child = self._uow.aggregates.get(child_id) if self._uow is not None else None
        return child.open_case_id if isinstance(child, Child) else None

    def _find(self, kind: str, digest: bytes) -> list[UUID]:
        pending = self._pending_matches(kind, digest)
        uow = self._uow
        if uow is not None and (kind, digest) in uow.known_entries:
            return pending + (uow.known_index or {}).get((kind, digest), [])
        return pending + self.blind_index.find(kind, digest)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save now, or, inside :meth:`batch`, keep the aggregates for the batch's write."""
        if self._uow is None:
            return super().save(*objs, **kwargs)
        for obj in objs:
            if obj is not None:
                self._uow.aggregates[obj.id] = obj
        return []

    def tracked_position(self, name: str) -> int | None:
        """The last position a consumer recorded with its effects (None: nothing yet)."""
        recorder = self.recorder
        if not isinstance(recorder, ProcessRecorder):  # pragma: no cover - see construct_recorder
            msg = "this application's recorder cannot track positions"
            raise TypeError(msg)
        return recorder.max_tracking_id(name)

    def recorded_among(self, aggregate_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates are stored already (one query where the store allows)."""
        return recorded_among(self.recorder, aggregate_ids)

    def is_recorded(self, aggregate_id: UUID) -> bool:
        """Whether any event of this aggregate is stored (or pending in this batch)."""
        if self._uow is not None and aggregate_id in self._uow.aggregates:
            return True
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _index_later(self, child_id: UUID, rows: list[tuple[str, bytes]]) -> None:
        """Index rows of the current batch, written with its events."""
        uow = self._current()
        uow.index_rows.setdefault(child_id, []).extend(rows)
        for row in rows:
            uow.pending_index.setdefault(row, []).append(child_id)

    def _pending_matches(self, kind: str, digest: bytes) -> list[UUID]:
        if self._uow is None:
            return []
        return list(self._uow.pending_index.get((kind, digest), ()))

    def construct_mapper(self) -> Mapper[UUID]:
        return PersonalDataMapper(
            self.construct_transcoder(), self.data_keys, seal_personal=self._seal_personal
        )

    def construct_transcoder(self) -> Transcoder:
        return cme_transcoder()

    def _valid(self, command_type: type[TCommand], command: Any) -> TCommand:
        return c.validate(command_type, command, today=self.today())

    def _get(self, aggregate_type: type[TAggregate], ident: UUID) -> TAggregate:
        errors: dict[type[Any], Callable[[UUID], NotFoundError]] = {
            Child: ChildNotFoundError,
            Case: CaseNotFoundError,
            Disclosure: DisclosureNotFoundError,
            RightsRequest: RightsRequestNotFoundError,
        }
        aggregate: object
        if self._uow is not None and ident in self._uow.aggregates:
            aggregate = self._uow.aggregates[ident]
        else:
            try:
                aggregate = self.repository.get(ident)
            except AggregateNotFoundError:
                raise errors[aggregate_type](ident) from None
        if not isinstance(aggregate, aggregate_type):
            raise errors[aggregate_type](ident)
        if self._uow is not None:
            self._uow.aggregates[ident] = aggregate
        return aggregate

    # -- children ----------------------------------------------------------------

    def register_child(self, command: c.RegisterChild | dict[str, Any]) -> UUID:
        return self.register_children([command])[0]

    def register_children(
        self,
        commands: Sequence[c.RegisterChild | dict[str, Any]],
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

    def get_child(self, child_id: UUID) -> Child:
        return self._get(Child, child_id)

    def find_child_by_upn(self, upn: str) -> UUID | None:
        return self._first_live(self._find(*self.blind_index.upn_entry(upn)))

    def find_child_by_surname_and_dob(
        self, surname: str, date_of_birth: date, forenames: str
    ) -> UUID | None:
        entry = self.blind_index.surname_dob_entry(surname, date_of_birth, forenames)
        return self._first_live(self._find(*entry))

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

    def rectify_child_details(self, command: c.RectifyChildDetails | dict[str, Any]) -> list[str]:
        """Correct a record; returns the names of the fields that changed."""
        cmd = self._valid(c.RectifyChildDetails, command)
        child = self.get_child(cmd.child_id)
        before = child.current_details()
        changed = child.rectify(cmd.actor, cmd.details, cmd.request_id)
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

    def change_address(self, command: c.ChangeAddress | dict[str, Any]) -> None:
        cmd = self._valid(c.ChangeAddress, command)
        child = self.get_child(cmd.child_id)
        child.change_address(cmd.actor, cmd.address, cmd.effective_from, cmd.source.value)
        self.save(child)

    def record_school_registration(
        self, command: c.RecordSchoolRegistration | dict[str, Any]
    ) -> None:
        cmd = self._valid(c.RecordSchoolRegistration, command)
        child = self.get_child(cmd.child_id)
        child.register_at_school(
            actor=cmd.actor, school_urn=cmd.school_urn, on_roll_from=cmd.on_roll_from
        )
        self.save(child)

    def remove_from_roll(self, command: c.RemoveFromRoll | dict[str, Any]) -> None:
        cmd = self._valid(c.RemoveFromRoll, command)
        child = self.get_child(cmd.child_id)
        child.remove_from_roll(
            actor=cmd.actor,
            school_urn=cmd.school_urn,
            removed_on=cmd.removed_on,
            deletion_ground=cmd.deletion_ground.value,
        )
        self.save(child)

    def notify_reduced_timetable(self, command: c.NotifyReducedTimetable | dict[str, Any]) -> None:
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

    def record_move_to_another_authority(
        self, command: c.RecordMoveToAnotherAuthority | dict[str, Any]
    ) -> None:
        cmd = self._valid(c.RecordMoveToAnotherAuthority, command)
        child = self.get_child(cmd.child_id)
        child.record_move_to_authority(
            actor=cmd.actor, la_code=cmd.la_code, moved_on=cmd.moved_on, confirmed=cmd.confirmed
        )
        self.save(child)

    def record_move_abroad(self, command: c.RecordMoveAbroad | dict[str, Any]) -> None:
        cmd = self._valid(c.RecordMoveAbroad, command)
        child = self.get_child(cmd.child_id)
        child.record_move_abroad(cmd.actor, cmd.destination_country, cmd.moved_on, cmd.confirmed)
        self.save(child)

    def place_legal_hold(self, command: c.PlaceLegalHold | dict[str, Any]) -> None:
        cmd = self._valid(c.PlaceLegalHold, command)
        child = self.get_child(cmd.child_id)
        child.place_legal_hold(cmd.actor, cmd.hold_id, cmd.reason, cmd.authority)
        self.save(child)

    def release_legal_hold(self, command: c.ReleaseLegalHold | dict[str, Any]) -> None:
        cmd = self._valid(c.ReleaseLegalHold, command)
        child = self.get_child(cmd.child_id)
        child.release_legal_hold(actor=cmd.actor, hold_id=cmd.hold_id)
        self.save(child)

    def lift_restriction(self, command: c.LiftRestriction | dict[str, Any]) -> None:
        cmd = self._valid(c.LiftRestriction, command)
        child = self.get_child(cmd.child_id)
        child.lift_restriction(actor=cmd.actor, request_id=cmd.request_id)
        self.save(child)

    def record_personal_data_read(self, child_id: UUID, actor: str, purpose: str) -> None:
        """Audit a decrypting read (history, SAR, replay): it goes to the ledger."""
        child = self.get_child(child_id)
        child.record_read(actor=actor, purpose=purpose)
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

    # -- cases -----------------------------------------------------------------

    def open_case(self, command: c.OpenCase | dict[str, Any]) -> UUID:
        cmd = self._valid(c.OpenCase, command)
        child = self.get_child(cmd.child_id)
        child.check_not_shredded()
        personal = {
            k: v
            for k, v in {
                "referrer_name": cmd.referrer_name,
                "referrer_contact": cmd.referrer_contact,
                "notes": cmd.notes,
            }.items()
            if v
        }
        case = Case(
            actor=cmd.actor,
            child_id=cmd.child_id,
            source=cmd.source.value,
            reason=cmd.reason.value,
            referred_on=cmd.referred_on,
            assigned_officer=cmd.assigned_officer,
            personal=personal or None,
        )
        child.note_case_opened(actor=cmd.actor, case_id=case.id)
        self.save(case, child)
        return case.id

    def get_case(self, case_id: UUID) -> Case:
        return self._get(Case, case_id)

    def record_enquiry(self, command: c.RecordEnquiry | dict[str, Any]) -> UUID:
        cmd = self._valid(c.RecordEnquiry, command)
        case = self.get_case(cmd.case_id)
        enquiry_id = case.record_enquiry(
            cmd.actor, cmd.made_on, cmd.agency.value, cmd.method.value, cmd.outcome.value, cmd.notes
        )
        self.save(case)
        return enquiry_id

    def change_case_status(self, command: c.ChangeCaseStatus | dict[str, Any]) -> None:
        cmd = self._valid(c.ChangeCaseStatus, command)
        case = self.get_case(cmd.case_id)
        case.change_status(cmd.actor, cmd.status.value, cmd.changed_on)
        self.save(case)

    def record_support_decision(self, command: c.RecordSupportDecision | dict[str, Any]) -> UUID:
        cmd = self._valid(c.RecordSupportDecision, command)
        case = self.get_case(cmd.case_id)
        decision_id = case.record_support_decision(
            cmd.actor, cmd.decision, cmd.reason, cmd.decided_by, cmd.automated, cmd.rule_id
        )
        self.save(case)
        return decision_id

    def review_automated_decision(
        self, command: c.ReviewAutomatedDecision | dict[str, Any]
    ) -> None:
        cmd = self._valid(c.ReviewAutomatedDecision, command)
        case = self.get_case(cmd.case_id)
        case.review_automated_decision(cmd.actor, cmd.decision_id, cmd.upheld, cmd.notes)
        self.save(case)

    def assign_officer(self, command: c.AssignOfficer | dict[str, Any]) -> None:
        cmd = self._valid(c.AssignOfficer, command)
        case = self.get_case(cmd.case_id)
        case.assign_officer(cmd.actor, cmd.officer, cmd.next_action_due)
        self.save(case)

    def close_case(self, command: c.CloseCase | dict[str, Any]) -> None:
        cmd = self._valid(c.CloseCase, command)
        case = self.get_case(cmd.case_id)
        case.close(cmd.actor, cmd.outcome.value, cmd.closed_on)
        child = self.get_child(case.child_id)
        child.note_case_closed(actor=cmd.actor, case_id=case.id)
        self.save(case, child)

    # -- disclosures -----------------------------------------------------------------

    def make_disclosure(self, command: c.MakeDisclosure | dict[str, Any]) -> DisclosureOutcome:
        """Share information, unless the child's processing is restricted (then refuse).

        A restriction is overridden only by a basis that UK GDPR Art 18(2)
        allows; a refusal is recorded as an event like a disclosure.
        """
        cmd = self._valid(c.MakeDisclosure, command)
        child = self.get_child(cmd.child_id)
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

    def record_information_received(
        self, command: c.RecordInformationReceived | dict[str, Any]
    ) -> UUID:
        cmd = self._valid(c.RecordInformationReceived, command)
        child = self.get_child(cmd.child_id)
        child.check_not_shredded()
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

    # -- rights requests ---------------------------------------------------------------

    def receive_rights_request(self, command: c.ReceiveRightsRequest | dict[str, Any]) -> UUID:
        """Record a request; a restriction request restricts processing at once."""
        cmd = self._valid(c.ReceiveRightsRequest, command)
        child = self.get_child(cmd.child_id)
        child.check_not_shredded()
        personal = {"requester_name": cmd.requester_name}
        if cmd.requester_contact:
            personal["requester_contact"] = cmd.requester_contact
        if cmd.details:
            personal["details"] = cmd.details
        request = RightsRequest(
            actor=cmd.actor,
            child_id=cmd.child_id,
            request_type=cmd.request_type.value,
            received_on=cmd.received_on,
            personal=personal,
        )
        if cmd.request_type in RESTRICTS_WHILE_CONSIDERED:
            # UK GDPR Art 18(1): while accuracy or an objection is considered,
            # only storage and essential processing continue.
            child.restrict_processing(actor=cmd.actor, request_id=request.id)
        if cmd.request_type is RightsRequestType.OBJECTION:
            child.record_objection(actor=cmd.actor, request_id=request.id)
        self.save(request, child)
        return request.id

    def get_rights_request(self, request_id: UUID) -> RightsRequest:
        return self._get(RightsRequest, request_id)

    def verify_identity(self, command: c.VerifyIdentity | dict[str, Any]) -> None:
        cmd = self._valid(c.VerifyIdentity, command)
        request = self.get_rights_request(cmd.request_id)
        request.verify_identity(cmd.actor, cmd.verified_on)
        self.save(request)

    def stop_clock(self, command: c.StopClock | dict[str, Any]) -> None:
        cmd = self._valid(c.StopClock, command)
        request = self.get_rights_request(cmd.request_id)
        request.stop_clock(cmd.actor, cmd.stopped_on, cmd.reason.value)
        self.save(request)

    def resume_clock(self, command: c.ResumeClock | dict[str, Any]) -> None:
        cmd = self._valid(c.ResumeClock, command)
        request = self.get_rights_request(cmd.request_id)
        request.resume_clock(cmd.actor, cmd.resumed_on)
        self.save(request)

    def extend_request(self, command: c.ExtendRequest | dict[str, Any]) -> None:
        cmd = self._valid(c.ExtendRequest, command)
        request = self.get_rights_request(cmd.request_id)
        request.extend(cmd.actor, cmd.months, cmd.reason)
        self.save(request)

    def decide_request(self, command: c.DecideRequest | dict[str, Any]) -> RightsRequest:
        """Decide a request; end the restriction it placed once nothing is left to consider.

        An erasure cannot be fulfilled while a legal hold stands (the caller
        shreds a fulfilled erasure through the retention job). A restriction
        the request placed is lifted when the decision ends the consideration:
        a rectification decided, an objection refused, a restriction request
        refused. An upheld objection or restriction stays until lifted.
        """
        cmd = self._valid(c.DecideRequest, command)
        request = self.get_rights_request(cmd.request_id)
        child = self.get_child(request.child_id)
        granted = cmd.decision is not RequestDecision.REFUSED
        if request.request_type is RightsRequestType.ERASURE and granted and child.on_legal_hold:
            msg = (
                "the record is under a legal hold, so erasure cannot be fulfilled while it "
                "stands; decide 'refused' and explain the hold"
            )
            raise RequestStateError(msg, field="decision")
        request.decide(cmd.actor, cmd.decision, cmd.decided_on, cmd.explanation)
        upheld = granted and request.request_type in {
            RightsRequestType.OBJECTION,
            RightsRequestType.RESTRICTION,
        }
        if child.is_restricted and child.restricted_by == request.id and not upheld:
            child.lift_restriction(actor=cmd.actor, request_id=request.id)
        self.save(request, child)
        return request

    def close_request(self, command: c.CloseRequest | dict[str, Any]) -> None:
        cmd = self._valid(c.CloseRequest, command)
        request = self.get_rights_request(cmd.request_id)
        request.close(cmd.actor, cmd.closed_on)
        self.save(request)
