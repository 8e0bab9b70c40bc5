"""The access log: who read a child's personal data, for the ledger and the DPO.

Any area that opens a child's personal values for a person records the read
here; the reads are a stream beside the child (``domain.access_log``).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from application.core import ApplicationCore
from domain.access_log import AccessLog
from domain.child import Child
from domain.errors import ChildNotFoundError

READ_RETRIES = 10
"""Reads of one child recorded at once by this many processes still each get recorded."""

CHILD_TOPIC = get_topic(Child) + "."
"""Every stored event of a child has a topic under the Child aggregate's."""


class AccessLogUseCases(ApplicationCore):
    def record_personal_data_read(self, child_id: UUID, actor: str, purpose: str) -> None:
        """Audit a decrypting read (history, SAR, replay, a record shown): it goes to the ledger.

        The read is appended to the child's access log after its last event,
        replaying neither the log nor the child: one indexed query for each,
        however often the child was read before.
        """
        held = self._uow is not None and child_id in self._uow.aggregates
        if not held:
            first = self.recorder.select_events(child_id, limit=1)
            if not first or not first[0].topic.startswith(CHILD_TOPIC):
                raise ChildNotFoundError(child_id)
        if self._uow is not None:  # a batch writes once, all or nothing: no retry inside it
            self._append_read(child_id, actor, purpose)
            return
        for attempt in range(READ_RETRIES):
            try:
                self._append_read(child_id, actor, purpose)
                return
            except IntegrityError:
                # Another process appended a read of this child first: reads commute,
                # so append after theirs.
                if attempt == READ_RETRIES - 1:
                    raise

    def _append_read(self, child_id: UUID, actor: str, purpose: str) -> None:
        log_id = AccessLog.create_id(child_id)
        held_log = self._uow.aggregates.get(log_id) if self._uow is not None else None
        log = held_log if isinstance(held_log, AccessLog) else None
        if log is None:
            last = self.recorder.select_events(log_id, desc=True, limit=1)
            log = (
                AccessLog.as_last_recorded(child_id, last[0].originator_version)
                if last
                else AccessLog(actor=actor, child_id=child_id)
            )
        log.record_read(actor=actor, purpose=purpose)
        self.save(log)

    def reads_of(self, child_id: UUID) -> list[AccessLog.PersonalDataRead | Child.PersonalDataRead]:
        """Every recorded read of the child's personal data, oldest first (the DPO's access log)."""
        earlier = [e for e in self.events.get(child_id) if isinstance(e, Child.PersonalDataRead)]
        logged = [
            e
            for e in self.events.get(AccessLog.create_id(child_id))
            if isinstance(e, AccessLog.PersonalDataRead)
        ]
        return [*earlier, *logged]
