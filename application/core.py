"""The application core: the library's Application, one unit of work, the shared reads.

Every use case module subclasses this; each method takes a validated command,
loads the aggregates it needs, calls their command methods and saves the new
events, in one transaction with whatever else the batch causes. The mapper
that seals personal data comes from the composition root, so every path
into the event store goes through it; nothing here knows how it seals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.persistence import (
    Mapper,
    ProcessRecorder,
    Recording,
    Tracking,
)

from application.ports import (
    SURNAME_DOB,
    UPN,
    AtomicBatchWrites,
    BatchMapper,
    DataKeys,
    EventStoreQueries,
    IdentityIndex,
)
from application.unit_of_work import BATCH_WRITES, BatchWrites, UnitOfWork
from domain import commands as c
from domain.case import Case
from domain.child import Child
from domain.disclosure import Disclosure
from domain.errors import (
    CaseNotFoundError,
    CaseOfAnotherChildError,
    ChildNotFoundError,
    DisclosureNotFoundError,
    NotFoundError,
    RequestOfAnotherChildError,
    RightsRequestNotFoundError,
)
from domain.rights_request import RightsRequest

TCommand = TypeVar("TCommand", bound=c.Command)
TAggregate = TypeVar("TAggregate", Child, Case, Disclosure, RightsRequest)


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


class ApplicationCore(Application[UUID]):
    """Children Missing Education: the part every use case shares."""

    name = "CME"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        data_keys: DataKeys,
        blind_index: IdentityIndex,
        mapper: Callable[[], Mapper[UUID]],
        today: Callable[[], date] = date.today,
        now: Callable[[], datetime] | None = None,
        preload_keys: bool = True,
    ) -> None:
        """``mapper`` makes the mapper that encodes events and seals their personal data."""
        self.data_keys = data_keys
        self.blind_index = blind_index
        self._mapper_factory = mapper
        self.today = today
        # One clock for the application and the jobs it serves; a test that sets
        # "today" gets a "now" on that day too.
        self.now = now or (
            (lambda: datetime.now(UTC))
            if today is date.today
            else (lambda: datetime.combine(today(), datetime.now(UTC).timetz()))
        )
        self._preload_keys = preload_keys
        self._uow: UnitOfWork | None = None
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
        self._uow = UnitOfWork(tracking)
        try:
            yield
            uow = self._uow
        finally:
            self._uow = None
        self._flush(uow)

    @contextmanager
    def _unit(self) -> Iterator[UnitOfWork]:
        """The current batch, or a batch of one use case when none is open."""
        if self._uow is not None:
            yield self._uow
            return
        with self.batch():
            yield self._current()

    def _current(self) -> UnitOfWork:
        if self._uow is None:  # pragma: no cover - callers open a unit first
            msg = "this write belongs to a batch (see _unit)"
            raise RuntimeError(msg)
        return self._uow

    def _flush(self, uow: UnitOfWork) -> None:
        """Write the batch: events, position, keys and index rows in one transaction.

        New data keys are made and cached first (the mapper seals the new
        children's events with them); a store whose recorder cannot write
        them in the events' transaction gets the keys before the events and
        the index rows after, so a failure there leaves an unused key rather
        than an unfindable child.
        """
        writes = BatchWrites(
            new_keys=list(self.data_keys.prepare_many(uow.new_keys)),
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
            # What the library's collect_events does for an aggregate, without its two
            # runtime-Protocol checks per aggregate (8 % of intake's time, #16): every
            # aggregate here is the library's own, and only those with news are taken.
            for aggregate in uow.aggregates.values():
                if getattr(aggregate, "pending_events", True):
                    processing.events.extend(aggregate.collect_events())
                    processing.aggregates[aggregate.id] = aggregate
            if atomic and writes:
                processing.saved_kwargs[BATCH_WRITES] = writes
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
        stored = self.queries.select_many(wanted)
        if self._preload_keys and not withhold_personal:
            self.data_keys.load({*subjects, *stored}, missing_ok=True)
        mapper = self.mapper
        flat = [event for events in stored.values() for event in events]
        domain_events = (
            mapper.to_domain_events(flat, withhold_personal=withhold_personal)
            if isinstance(mapper, BatchMapper)
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
        return self.queries.recorded_among(aggregate_ids)

    @property
    def queries(self) -> EventStoreQueries:
        """The event store's extra reads (the composition root gives a recorder with them)."""
        recorder = self.recorder
        if not isinstance(recorder, EventStoreQueries):  # pragma: no cover - a wiring error
            msg = f"{type(recorder).__name__} answers none of the application's queries"
            raise TypeError(msg)
        return recorder

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
        return self._mapper_factory()

    @property
    def batch_mapper(self) -> BatchMapper:
        """The mapper, for readers of many stored events at once (feeds, replays)."""
        mapper = self.mapper
        if not isinstance(mapper, BatchMapper):  # pragma: no cover - a wiring error
            msg = f"{type(mapper).__name__} cannot read a batch of events"
            raise TypeError(msg)
        return mapper

    def _valid(self, command_type: type[TCommand], command: Any) -> TCommand:
        return c.validate(command_type, command, today=self.today())

    def get_child(self, child_id: UUID) -> Child:
        return self._get(Child, child_id)

    def check_case_of(self, child: Child, case_id: UUID | None) -> None:
        """Refuse a record about ``child`` filed under someone else's case."""
        if case_id is not None and self._get(Case, case_id).child_id != child.id:
            raise CaseOfAnotherChildError(case_id, child.id)

    def check_request_of(self, child: Child, request_id: UUID | None) -> None:
        """Refuse a step about ``child`` made under someone else's rights request."""
        if request_id is not None and self._get(RightsRequest, request_id).child_id != child.id:
            raise RequestOfAnotherChildError(request_id, child.id)

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
