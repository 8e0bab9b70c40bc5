"""The intake service: a batch of raw upstream messages in, their effects out, exactly once.

Kafka-free, so the Kafka worker, the embedded demo and the tests share it.
For one batch (one partition's poll) it:

1. decodes every message; the bad ones are quarantined first (durably);
2. applies the good ones in one application batch, each with its
   de-duplication record, and the batch's position (``tracking``), all in one
   database transaction;
3. if a command is rejected by the domain, quarantines that message and
   re-runs the batch without it; if a message was already applied in an
   earlier batch (a re-published duplicate), falls back to one message at a
   time, skipping the ones already recorded.

A crash at any point leaves the database either before or after the whole
transaction, and the quarantine holding at most a repeat of a record it has
(same id): nothing is lost, nothing is applied twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from pydantic import ValidationError

from consumers.contract import Envelope
from consumers.intake.decode import Decoded, Reason, Rejected, decode
from consumers.intake.handlers import HANDLERS, identity_entries, sender_ref
from consumers.quarantine import QuarantineCipher, QuarantineRecord, QuarantineSink
from consumers.sealed_payload import IntakeKeys
from domain.application import CMEApplication
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


class _Poison(Exception):
    def __init__(self, index: int, reason: Reason) -> None:
        super().__init__(reason.code)
        self.index = index
        self.reason = reason


# Errors a command may raise because of what a message says (not because a
# service is down): the message is quarantined, the consumer goes on.
MESSAGE_ERRORS = (DomainError, ValidationError, ValueError, KeyError, TypeError)


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
        rejected: list[QuarantineRecord] = []
        today = self.today()
        for inbound in batch:
            result = decode(inbound.value, inbound.key, self.keys, today)
            if isinstance(result, Rejected):
                rejected.append(self._record(inbound, result.reason, result.envelope))
            else:
                good.append((inbound, result))
        self._quarantine(rejected, outcome)

        while True:
            try:
                applied, duplicates = self._apply_together(good, tracking)
            except _Poison as poison:
                inbound, decoded = good.pop(poison.index)
                self._quarantine([self._record(inbound, poison.reason, decoded.envelope)], outcome)
                continue
            except IntegrityError:
                applied, duplicates = self._apply_one_by_one(good, tracking, outcome)
            break
        outcome.applied += applied
        outcome.duplicates += duplicates
        return outcome

    def _apply_together(
        self, good: list[tuple[Inbound, Decoded]], tracking: Tracking | None
    ) -> tuple[int, int]:
        seen: set[Any] = set()
        applied = duplicates = 0
        with self.app.batch(tracking):
            self._prefetch(good)
            for index, (inbound, decoded) in enumerate(good):
                envelope = decoded.envelope
                message_key = upstream_message_id(envelope.sender, envelope.message_id)
                if message_key in seen:
                    duplicates += 1
                    continue
                seen.add(message_key)
                self._apply(index, inbound, decoded)
                applied += 1
        return applied, duplicates

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

    def _apply_one_by_one(
        self, good: list[tuple[Inbound, Decoded]], tracking: Tracking | None, outcome: Outcome
    ) -> tuple[int, int]:
        applied = duplicates = 0
        for index, (inbound, decoded) in enumerate(good):
            envelope = decoded.envelope
            if self.app.is_recorded(upstream_message_id(envelope.sender, envelope.message_id)):
                duplicates += 1
                continue
            try:
                with self.app.batch():
                    self._apply(index, inbound, decoded)
                applied += 1
            except _Poison as poison:
                self._quarantine([self._record(inbound, poison.reason, envelope)], outcome)
        if tracking is not None:
            try:
                with self.app.batch(tracking):
                    pass
            except IntegrityError:
                # Another worker (after a rebalance) recorded this position first.
                done = self.app.tracked_position(tracking.application_name)
                if done is None or done < tracking.notification_id:
                    raise
        return applied, duplicates

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
        except MESSAGE_ERRORS as exc:
            raise _Poison(
                index, Reason("domain_rejected:invalid", "", f"{type(exc).__name__}")
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

    def _quarantine(self, records: list[QuarantineRecord], outcome: Outcome) -> None:
        if not records:
            return
        self.quarantine.put(records)
        for record in records:
            log.warning(
                "quarantined %s:%s:%s reason=%s field=%s sender=%s",
                record.source_topic,
                record.source_partition,
                record.source_offset,
                record.reason.code,
                record.reason.field,
                record.sender,
            )
        outcome.quarantined.extend(records)
