"""The retention job: destroy each child's key when they turn 25, and finish the cascade.

The privacy notice keeps data "until a young person reaches the age of 25,
after which the information is made inaccessible". For every key whose
expiry (the 25th birthday, kept in clear in the key store) has come:

1. a legal hold defers destruction, and the deferral is recorded (once per
   set of holds) so it reaches the ledger;
2. otherwise the key is destroyed: the row is deleted and a tombstone written
   in one transaction, and every in-process cache evicts it. From this instant
   the child's personal data is unreadable everywhere it was copied;
3. the cascade then erases the child's quarantined messages (found by the
   sender-reference digests still in the blind index), removes the
   blind-index rows, records ``PersonalDataShredded`` with the erased
   quarantine ids (projections redact, the ledger gets the erasure receipt),
   and marks the tombstone complete.

A crash between 2 and 3 leaves a tombstone without its completion mark: the
next run finishes it (every step is idempotent). Runs are serialised by a
lock, so two schedulers at once shred each child once. Keys that belong to no
child (the quarantine's monthly keys) are destroyed and nothing else.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from crypto_shredding.blind_index import SENDER_REF
from domain.application import CMEApplication
from domain.child import Child
from domain.errors import ChildNotFoundError
from domain.values import ShredReason

log = logging.getLogger("cme.retention")
ACTOR = "system:retention-job"
LOCK_KEY = 0x434D4553  # "CMES"


@dataclass
class RetentionReport:
    shredded: list[UUID] = field(default_factory=list)
    deferred: list[UUID] = field(default_factory=list)
    other_keys: list[UUID] = field(default_factory=list)
    finished: list[UUID] = field(default_factory=list)
    skipped_locked: bool = False


Lock = Callable[[], AbstractContextManager[bool]]


class QuarantineEraser(Protocol):
    """Removes a shredded child's quarantined messages (part of the shred cascade)."""

    def keys_of(self, digests: set[str]) -> set[UUID]:
        """The keys that seal only these subjects' quarantined messages."""

    def erase(self, digests: set[str]) -> dict[str, list[str]]:
        """Erase every message with one of these subject digests; ids erased per digest."""

    def present(self, quarantine_ids: set[str]) -> set[str]:
        """Which of these messages are still held (for the shred certificate)."""

    def close(self) -> None:
        """End of a run: let go of anything kept open between batches."""


class UpstreamEraser(Protocol):
    """Removes upstream messages intake has applied (they open with the intake key)."""

    def erase_applied(self) -> dict[int, int]:
        """Delete what intake has applied; each partition's new start offset."""


@contextmanager
def file_lock(path: Path) -> Iterator[bool]:
    """An exclusive, non-blocking lock on a file (the embedded mode's advisory lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_lock(url: str) -> Lock:
    """A session advisory lock, held on its own connection for the whole run."""

    @contextmanager
    def lock() -> Iterator[bool]:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            acquired = bool(row and row[0])
            try:
                yield acquired
            finally:
                if acquired:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

    return lock


class RetentionJob:
    """Shreds due children a batch at a time: one transaction per step per batch.

    A batch's keys are destroyed in one key-store transaction, so a failure
    leaves each child of the batch either untouched (key still there) or with
    a tombstone whose cascade the next run finishes.
    """

    def __init__(
        self,
        app: CMEApplication,
        lock: Lock,
        batch: int = 1000,
        quarantine: QuarantineEraser | None = None,
        upstream: UpstreamEraser | None = None,
    ) -> None:
        self.app = app
        self.lock = lock
        self.batch = batch
        self.quarantine = quarantine
        self.upstream = upstream

    def run(self, today: date | None = None) -> RetentionReport:
        today = today or self.app.today()
        report = RetentionReport()
        with self.lock() as acquired:
            if not acquired:
                report.skipped_locked = True
                log.info("another retention run holds the lock; this one does nothing")
                return report
            try:
                self._run(today, report)
            finally:
                self._end_of_run()
        log.info(
            "retention run for %s: shredded=%d deferred=%d other_keys=%d finished=%d",
            today,
            len(report.shredded),
            len(report.deferred),
            len(report.other_keys),
            len(report.finished),
        )
        return report

    def _run(self, today: date, report: RetentionReport) -> None:
        store = self.app.data_keys.store
        while unfinished := store.unfinished(self.batch):
            tombstones = store.tombstones(unfinished)
            by_reason: dict[ShredReason, list[UUID]] = {}
            for child_id in unfinished:
                by_reason.setdefault(_reason(tombstones[child_id].reason), []).append(child_id)
            for reason, ids in by_reason.items():
                self._finish(ids, reason)
            report.finished += unfinished
        seen: set[UUID] = set()
        while True:
            due = [c for c in store.due(today, self.batch) if c not in seen]
            if not due:
                break
            seen.update(due)
            self._shred(due, ShredReason.RETENTION_REACHED, today, report)

    def shred_now(self, child_id: UUID, reason: ShredReason) -> bool:
        """An approved erasure: the same path as retention, today. False if held."""
        with self.lock() as acquired:
            if not acquired:
                msg = "a retention run is in progress; try again in a moment"
                raise RuntimeError(msg)
            report = RetentionReport()
            try:
                self._shred([child_id], reason, self.app.today(), report)
            finally:
                self._end_of_run()
            return child_id in report.shredded

    def _end_of_run(self) -> None:
        if self.quarantine is not None:
            self.quarantine.close()

    def _shred(
        self, key_ids: list[UUID], reason: ShredReason, today: date, report: RetentionReport
    ) -> None:
        to_destroy: dict[UUID, Child] = {}
        others: list[UUID] = []
        with self.app.batch():
            # Holds and versions are facts: nothing about to be destroyed is decrypted.
            self.app.prefetch(key_ids, withhold_personal=True)
            for key_id in key_ids:
                try:
                    child = self.app.get_child(key_id)
                except ChildNotFoundError:
                    others.append(key_id)
                    continue
                if child.on_legal_hold:
                    if child.shredding_deferral_is_news():
                        child.defer_shredding(
                            actor=ACTOR, hold_ids=list(child.legal_holds), due_on=today
                        )
                        self.app.save(child)
                    report.deferred.append(key_id)
                else:
                    to_destroy[key_id] = child
        if others:
            # Not children: the quarantine's monthly keys whose retention has passed.
            self.app.data_keys.destroy_many(others, reason="retention_reached", at=self.app.now())
            self.app.data_keys.store.mark_cascade_done(others, self.app.now())
            report.other_keys += others
        if to_destroy:
            ids = list(to_destroy)
            self.app.data_keys.destroy_many(ids, reason=reason.value, at=self.app.now())
            try:
                self._finish(ids, reason, loaded=list(to_destroy.values()))
            except IntegrityError:
                # A child changed since it was loaded: finish from the stored state.
                self._finish(ids, reason)
            report.shredded += ids

    def _finish(
        self, child_ids: list[UUID], reason: ShredReason, loaded: list[Child] | None = None
    ) -> None:
        """The cascade after the keys are gone; every step may safely run again.

        ``loaded`` are the children as the batch found them, to save reading
        every event again; without them the children are read from the store.
        """
        erased = self._erase_quarantined(child_ids)  # needs the index rows: before forgetting
        self.app.blind_index.forget(*child_ids)
        with self.app.batch():
            if loaded is None:
                self.app.prefetch(child_ids, withhold_personal=True)
            else:
                self.app.save(*loaded)  # into the batch's identity map; nothing new yet
            for child_id in child_ids:
                with suppress(ChildNotFoundError):  # a non-child key has no record to mark
                    self.app.record_personal_data_shredded(
                        child_id, reason, actor=ACTOR, quarantine_erased=erased.get(child_id, [])
                    )
        if self.upstream is not None:
            # Their applied upstream messages still open with the intake key: off the topic.
            self.upstream.erase_applied()
        self.app.data_keys.store.mark_cascade_done(child_ids, self.app.now())

    def _erase_quarantined(self, child_ids: list[UUID]) -> dict[UUID, list[str]]:
        """Erase the children's quarantined messages, found by their sender references."""
        if self.quarantine is None:
            return {}
        digests = self.app.blind_index.store.digests_of(child_ids, SENDER_REF)
        owner = {digest.hex(): child_id for child_id, ds in digests.items() for digest in ds}
        # Their keys first: the records become unreadable at once, whenever
        # compaction removes them behind their tombstones.
        keys = list(self.quarantine.keys_of(set(owner)))
        if keys:
            self.app.data_keys.destroy_many(keys, reason="erased_with_child", at=self.app.now())
            self.app.data_keys.store.mark_cascade_done(keys, self.app.now())
        erased: dict[UUID, list[str]] = {}
        for digest, ids in self.quarantine.erase(set(owner)).items():
            erased.setdefault(owner[digest], []).extend(ids)
        return erased


def _reason(recorded: str) -> ShredReason:
    try:
        return ShredReason(recorded)
    except ValueError:
        return ShredReason.RETENTION_REACHED
