"""The intake service: a batch of raw upstream messages in, their effects out, exactly once.

Kafka-free, so the Kafka worker, the embedded demo and the tests share it.
For one batch (one partition's poll) it:

1. skips offsets whose effects are already stored (a redelivery after a crash);
2. decodes every message; the bad ones are quarantined first (durably);
3. skips messages already applied (a sender re-publishing one it sent
   before), found with one query before any handler runs;
4. applies the rest in one application batch, each with its de-duplication
   record, and writes everything the batch causes (events, de-duplication
   records, new data keys, blind-index rows) with its position in one
   database transaction;
5. if a command is refused by the domain, quarantines that message and
   re-runs the batch without it; if the transaction conflicts with another
   writer (a caseworker changed the same child, another intake process took
   the partition over), runs the whole batch again on fresh state.

A crash at any point leaves the database either before or after the whole
transaction, and the quarantine holding at most a repeat of a record it has
(same id): nothing is lost, nothing is applied twice. Only the domain's
refusals are quarantined here; any other exception is a fault in the code and
stops the worker loudly.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from eventsourcing.persistence import IntegrityError, Tracking
from pydantic import ValidationError

from application import CMEApplication
from consumers.contract import Envelope
from consumers.intake.decode import Decoded, Reason, Rejected, SenderKeys, decode
from consumers.intake.handlers import HANDLERS, identity_entries, sender_ref
from consumers.lifecycle import fault_point
from consumers.quarantine import QuarantineCipher, QuarantineRecord, QuarantineSink
from consumers.sealed_payload import IntakeKeys, public_key_from_b64
from domain.commands import violations_of
from domain.errors import DomainError
from domain.upstream_message import UpstreamMessage, upstream_message_id

log = logging.getLogger("cme.intake")


@dataclass(frozen=True)
class Inbound:
    """One message as read from the upstream topic."""

    value: bytes | None  # None: a tombstone, which a sender should never send here
    key: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    quarantined: list[QuarantineRecord] = field(default_factory=list)

    def merge(self, other: Outcome) -> Outcome:
        return Outcome(
            self.applied + other.applied,
            self.duplicates + other.duplicates,
            self.quarantined + other.quarantined,
        )


class _Poison(Exception):
    def __init__(self, index: int, reason: Reason) -> None:
        super().__init__(reason.code)
        self.index = index
        self.reason = reason


CONFLICTS_BEFORE_SPLITTING = 3
"""Attempts at a batch of many messages before it is split in two."""
MAX_CONFLICTS = 60
"""Attempts at one message that conflict with other writers before the worker gives up."""


class BatchConflictError(RuntimeError):
    """A batch kept conflicting with other writers; retrying it further would not help."""


class IntakeService:
    def __init__(
        self,
        app: CMEApplication,
        keys: IntakeKeys,
        quarantine: QuarantineSink,
        cipher: QuarantineCipher,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.app = app
        self.keys = keys
        self.quarantine = quarantine
        self.cipher = cipher
        self.today = today

    def process(self, batch: list[Inbound], tracking: Tracking | None) -> Outcome:
        """Apply a batch; on a conflict with another writer, again on fresh state.

        A batch that keeps conflicting (caseworkers busy on the same
        children) is split in halves, each written with its own position,
        down to single messages: a smaller transaction leaves a shorter
        window for another writer, so intake always gets through. A message
        quarantined in one attempt stays quarantined in the next, so none is
        both quarantined and applied.
        """
        refused: dict[int, QuarantineRecord] = {}
        outcome = self._settle(batch, tracking, refused)
        outcome.quarantined = list(refused.values())
        return outcome

    def _settle(
        self, batch: list[Inbound], tracking: Tracking | None, refused: dict[int, QuarantineRecord]
    ) -> Outcome:
        attempts = CONFLICTS_BEFORE_SPLITTING if len(batch) > 1 else MAX_CONFLICTS
        for attempt in range(attempts):
            try:
                return self._process(batch, tracking, refused)
            except IntegrityError as exc:
                if not is_conflict(exc):
                    raise  # a constraint the code broke: not something a retry mends
                # Another writer got there first: read fresh state and try again.
                log.info("intake batch conflicted with another writer (attempt %d)", attempt + 1)
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))  # noqa: S311 - jitter
        if len(batch) == 1:
            msg = f"an intake message conflicted {MAX_CONFLICTS} times with other writers"
            raise BatchConflictError(msg)
        half = len(batch) // 2
        first, second = batch[:half], batch[half:]
        first_tracking = Tracking(tracking.application_name, first[-1].offset) if tracking else None
        return self._settle(first, first_tracking, refused).merge(
            self._settle(second, tracking, refused)
        )

    def _process(
        self, batch: list[Inbound], tracking: Tracking | None, refused: dict[int, QuarantineRecord]
    ) -> Outcome:
        outcome = Outcome()
        if tracking is not None:
            # A redelivery of offsets this database already recorded is skipped
            # whole: their effects and their position were written together.
            done = self.app.tracked_position(tracking.application_name)
            if done is not None:
                outcome.duplicates += sum(1 for i in batch if i.offset <= done)
                batch = [i for i in batch if i.offset > done]
                if not batch:
                    return outcome
        good: list[tuple[Inbound, Decoded]] = []
        rejected: list[tuple[Inbound, Reason, Envelope | None]] = []
        today = self.today()
        senders = self._registered_senders()
        for inbound in batch:
            if inbound.offset in refused:
                continue
            result = decode(inbound.value, inbound.key, self.keys, senders, today)
            if isinstance(result, Rejected):
                rejected.append((inbound, result.reason, result.envelope))
            else:
                good.append((inbound, result))
        self._quarantine(refused, rejected)
        good = self._unapplied(good, outcome)
        while True:
            try:
                outcome.applied += self._apply_together(good, tracking)
            except _Poison as poison:
                inbound, decoded = good.pop(poison.index)
                self._quarantine(refused, [(inbound, poison.reason, decoded.envelope)])
                continue
            return outcome

    def _registered_senders(self) -> SenderKeys:
        """The sender register as stored now: a revocation takes effect from the next batch."""
        registry = self.app.sender_registry()
        keys: dict[str, tuple[X25519PublicKey, ...]] = {}

        def lookup(sender: str) -> tuple[X25519PublicKey, ...]:
            if sender not in keys:
                found = registry.public_keys(sender) if registry is not None else ()
                keys[sender] = tuple(public_key_from_b64(k) for k in found)
            return keys[sender]

        return lookup

    def _unapplied(
        self, good: list[tuple[Inbound, Decoded]], outcome: Outcome
    ) -> list[tuple[Inbound, Decoded]]:
        """The messages not applied before, in an earlier batch or earlier in this one."""
        ids = [upstream_message_id(d.envelope.sender, d.envelope.message_id) for _, d in good]
        applied = self.app.recorded_among(ids)
        fresh: list[tuple[Inbound, Decoded]] = []
        seen: set[Any] = set()
        for message_id, item in zip(ids, good, strict=True):
            if message_id in applied or message_id in seen:
                outcome.duplicates += 1
                continue
            seen.add(message_id)
            fresh.append(item)
        return fresh

    def _apply_together(
        self, good: list[tuple[Inbound, Decoded]], tracking: Tracking | None
    ) -> int:
        with self.app.batch(tracking):
            self._prefetch(good)
            for index, (inbound, decoded) in enumerate(good):
                self._apply(index, inbound, decoded)
            fault_point("intake:before-db-commit")
        return len(good)

    def _prefetch(self, good: list[tuple[Inbound, Decoded]]) -> None:
        """Three queries for the whole batch: index entries, the children, their cases."""
        self.app.prefetch_index(
            [
                entry
                for _, decoded in good
                for entry in identity_entries(self.app, decoded.envelope, decoded.payload)
            ]
        )
        children = self.app.known_children()
        self.app.prefetch(children, subjects=children)
        cases = [
            case_id
            for child_id in children
            if (case_id := self.app.cached_open_case(child_id)) is not None
        ]
        self.app.prefetch(cases, subjects=children)

    def _apply(self, index: int, inbound: Inbound, decoded: Decoded) -> None:
        envelope = decoded.envelope
        try:
            child_id = HANDLERS[envelope.type](self.app, envelope, decoded.payload)
        except DomainError as exc:
            violation = exc.violations()[0]
            raise _Poison(
                index,
                Reason(f"domain_rejected:{violation.rule}", violation.field, violation.message),
            ) from None
        except ValidationError as exc:
            # The domain's own value objects refused what the message says.
            violation = violations_of(exc)[0]
            raise _Poison(
                index,
                Reason(f"domain_rejected:{violation.rule}", violation.field, violation.message),
            ) from None
        self.app.save(
            UpstreamMessage(
                sender=envelope.sender,
                message_id=envelope.message_id,
                message_type=envelope.type.value,
                version=envelope.version,
                child_id=child_id,
                source=f"{inbound.topic}:{inbound.partition}:{inbound.offset}",
            )
        )

    def _record(
        self, inbound: Inbound, reason: Reason, envelope: Envelope | None
    ) -> QuarantineRecord:
        fields: dict[str, str | None] = {}
        if envelope is not None:
            fields = {
                "sender": envelope.sender,
                "type": envelope.type.value,
                "message_id": envelope.message_id,
                "subject_digest": self.app.blind_index.sender_ref_entry(sender_ref(envelope))[
                    1
                ].hex(),
            }
        return self.cipher.record(
            reason,
            inbound.value,
            inbound.key,
            inbound.topic,
            inbound.partition,
            inbound.offset,
            fields,
        )

    def _quarantine(
        self,
        refused: dict[int, QuarantineRecord],
        items: list[tuple[Inbound, Reason, Envelope | None]],
    ) -> None:
        """Quarantine messages durably, and remember them for the batch's next attempts."""
        if not items:
            return
        records = [self._record(inbound, reason, envelope) for inbound, reason, envelope in items]
        self.quarantine.put(records)
        for (inbound, _, _), record in zip(items, records, strict=True):
            refused[inbound.offset] = record
            log.warning(
                "quarantined %s:%s:%s reason=%s field=%s sender=%s",
                record.source_topic,
                record.source_partition,
                record.source_offset,
                record.reason.code,
                record.reason.field,
                record.sender,
            )


def is_conflict(exc: IntegrityError) -> bool:
    """Whether an integrity error is another writer's row in the way (a retry may mend it).

    A unique violation on the events' (aggregate, version) or the tracking
    table is a concurrent write; any other constraint (NOT NULL, a check)
    is a fault in the code, which a retry would only repeat.
    """
    cause: BaseException | None = exc.__cause__ or exc.__context__
    while cause is not None:
        sqlstate = getattr(cause, "sqlstate", None)
        if sqlstate is not None:
            return bool(sqlstate == "23505")  # unique_violation
        if type(cause).__name__ == "IntegrityError" and type(cause).__module__ == "sqlite3":
            return "UNIQUE" in str(cause)
        cause = cause.__cause__ or cause.__context__
    return True  # the in-memory recorder's own version conflict
