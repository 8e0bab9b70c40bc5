"""Quarantine: invalid upstream messages kept, encrypted, with the reason, for fix and replay.

A quarantined message may contain personal data in clear (a sender that
forgot to seal, or garbage), so the original bytes are encrypted under a
quarantine key for the month they arrived in. Those keys live in the key store
like children's keys, with an expiry ``retention`` days after the month ends,
so the retention job destroys them and every quarantined copy becomes
unreadable: bounded retention by crypto-shredding, whatever Kafka keeps.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from consumers.intake.decode import Reason
from crypto_shredding.data_keys import DataKeys
from crypto_shredding.errors import UnknownDataKeyError
from crypto_shredding.sealing import seal, unseal
from domain.markers import Shredded

SUBJECT_SCOPE = "subject"


def quarantine_id(topic: str, partition: int, offset: int) -> UUID:
    """The same message quarantined twice (after a crash) gets the same id."""
    return uuid5(NAMESPACE_URL, f"cme:quarantine:{topic}:{partition}:{offset}")


def period_key_id(day: date, generation: int = 0, subject_digest: str | None = None) -> UUID:
    """The month's key, or the month's key for one subject (so it can die with the child)."""
    subject = f":{subject_digest}" if subject_digest else ""
    suffix = f":g{generation}" if generation else ""
    return uuid5(NAMESPACE_URL, f"cme:quarantine-key:{day:%Y-%m}{subject}{suffix}")


def subject_keys(records: Iterable[QuarantineRecord], digests: set[str]) -> set[UUID]:
    """The keys that seal only these subjects' quarantined messages (destroyed with them)."""
    return {
        UUID(r.key_id)
        for r in records
        if r.subject_digest in digests and r.key_scope == SUBJECT_SCOPE
    }


@dataclass(frozen=True)
class QuarantineRecord:
    """What the quarantine topic holds for one message: no personal data in clear."""

    quarantine_id: str
    reason: Reason
    sender: str | None
    message_type: str | None
    message_id: str | None
    received_at: str
    source_topic: str
    source_partition: int
    source_offset: int
    key_id: str
    sealed_original: str
    # The keyed digest of sender|subject_ref (as the blind index keeps it), so the
    # shred cascade can find a child's quarantined messages without decrypting.
    subject_digest: str | None = None
    # "subject": sealed under a key of that subject's alone, destroyed when the
    # child is shredded; "month": the month's shared key (no subject known).
    key_scope: str = "month"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> QuarantineRecord:
        data: dict[str, Any] = json.loads(raw)
        data["reason"] = Reason(**data["reason"])
        return cls(**data)

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("cme-reason-code", self.reason.code.encode()),
            ("cme-reason-field", self.reason.field.encode()),
            ("cme-sender", (self.sender or "").encode()),
            ("cme-message-type", (self.message_type or "").encode()),
        ]


class QuarantineSink(Protocol):
    """Where quarantine records go; must be durable when ``put`` returns."""

    def put(self, records: list[QuarantineRecord]) -> None: ...


class InMemoryQuarantine:
    """Quarantine for unit tests and the embedded mode."""

    def __init__(self) -> None:
        self.records: dict[str, QuarantineRecord] = {}

    def put(self, records: list[QuarantineRecord]) -> None:
        for record in records:
            self.records[record.quarantine_id] = record

    def keys_of(self, digests: set[str]) -> set[UUID]:
        return subject_keys(self.records.values(), digests)

    def erase(self, digests: set[str]) -> dict[str, list[str]]:
        erased: dict[str, list[str]] = {}
        for qid, record in list(self.records.items()):
            if record.subject_digest in digests:
                erased.setdefault(record.subject_digest, []).append(qid)
                del self.records[qid]
        return erased

    def close(self) -> None:
        """Nothing held open (the eraser protocol's end of a run)."""


class QuarantineCipher:
    """Encrypts originals under the month's quarantine key (created on first use)."""

    def __init__(self, data_keys: DataKeys, retention_days: int) -> None:
        self.data_keys = data_keys
        self.retention = timedelta(days=retention_days)

    def _key(self, day: date, subject_digest: str | None) -> UUID:
        """The key for the month (and subject), a new generation if that one was destroyed."""
        for generation in range(100):
            key_id = period_key_id(day, generation, subject_digest)
            try:
                if isinstance(self.data_keys.key_for(key_id), Shredded):
                    continue  # destroyed (e.g. by a clock run ahead): never reuse it
            except UnknownDataKeyError:  # the month's first quarantined message
                next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
                self.data_keys.create(key_id, next_month + self.retention)
            return key_id
        msg = "a hundred quarantine keys for one month were destroyed; check the clock"
        raise RuntimeError(msg)

    def record(
        self,
        reason: Reason,
        raw_value: bytes | None,
        raw_key: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        envelope_fields: dict[str, str | None],
        now: datetime | None = None,
    ) -> QuarantineRecord:
        received = now or datetime.now(UTC)
        qid = quarantine_id(topic, partition, offset)
        digest = envelope_fields.get("subject_digest")
        key_id = self._key(received.date(), digest)
        key = self.data_keys.key_for(key_id)
        if isinstance(key, Shredded):  # pragma: no cover - destroyed between the two calls
            msg = "this month's quarantine key was destroyed while in use; retry"
            raise RuntimeError(msg)
        original = json.dumps(
            {
                "value": base64.b64encode(raw_value).decode() if raw_value is not None else None,
                "key": base64.b64encode(raw_key).decode() if raw_key is not None else None,
            }
        ).encode()
        sealed = seal(key, original, qid.bytes)
        return QuarantineRecord(
            quarantine_id=str(qid),
            reason=reason,
            sender=envelope_fields.get("sender"),
            message_type=envelope_fields.get("type"),
            message_id=envelope_fields.get("message_id"),
            received_at=received.isoformat(),
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key_id=str(key_id),
            sealed_original=base64.b64encode(sealed).decode(),
            subject_digest=digest,
            key_scope=SUBJECT_SCOPE if digest else "month",
        )

    def original(self, record: QuarantineRecord) -> tuple[bytes | None, bytes | None] | Shredded:
        """The quarantined bytes and key, or Shredded once retention has passed."""
        key = self.data_keys.key_for(UUID(record.key_id))
        if isinstance(key, Shredded):
            return key
        opened = json.loads(
            unseal(key, base64.b64decode(record.sealed_original), UUID(record.quarantine_id).bytes)
        )
        raw_key = base64.b64decode(opened["key"]) if opened["key"] is not None else None
        raw_value = base64.b64decode(opened["value"]) if opened["value"] is not None else None
        return raw_value, raw_key
