"""Who read a child's personal data, when and why: a log kept beside the child, not in it.

A read changes nothing about the child, and reads outnumber every other
change by far. Kept in the Child aggregate, every read made every later
command on the child replay all earlier reads (24 ms a load after 2,000
reads, against 0.3 ms for a child never read: `scripts/bench domain`). Here
they are a stream of their own, one per child, appended to without replaying
it; each read still reaches the ledger and the DPO's access log.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class AccessLog(Aggregate):
    """The reads of one child's personal data; nothing in it is personal."""

    class Event(Aggregate.Event):
        actor: str
        child_id: UUID

    class Started(Aggregate.Created, Event):
        pass

    @staticmethod
    def create_id(child_id: UUID, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"cme:access-log:{child_id}")

    @event(Started)
    def __init__(self, actor: str, child_id: UUID) -> None:
        self.child_id = child_id

    class PersonalDataRead(Event):
        """Someone read this child's decrypted data through the project's tools."""

        purpose: str

    def record_read(self, actor: str, purpose: str) -> None:
        self._record_read(actor=actor, child_id=self.child_id, purpose=purpose)

    @event(PersonalDataRead)
    def _record_read(self, actor: str, child_id: UUID, purpose: str) -> None:
        pass

    @classmethod
    def as_last_recorded(cls, child_id: UUID, version: int) -> AccessLog:
        """The log known only by its child and version: enough to append a read after it.

        A read changes no state, so appending one needs no replay of the log;
        only :meth:`record_read` may be called on it.
        """
        stand_in = object.__new__(cls)
        stand_in.__base_init__(cls.create_id(child_id), version, cls.Event.create_timestamp())
        stand_in.child_id = child_id
        return stand_in
