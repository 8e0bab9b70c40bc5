"""From raw bytes to a validated envelope and payload, or a machine-readable reason why not.

Pure apart from opening the sealed payload; never raises on bad input, and
never puts an input value into a reason (it may be personal data).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from pydantic import BaseModel, ValidationError

from consumers.contract import MAX_MESSAGE_BYTES, PAYLOADS, Envelope
from consumers.sealed_payload import (
    BASE_ALGORITHM,
    IntakeKeys,
    PayloadSealingError,
    SenderNotAuthenticatedError,
)
from consumers.strict_json import JsonRefusedError, Limits, loads
from domain.commands import violations_of


@dataclass(frozen=True)
class Reason:
    """Why a message was quarantined: a stable code, the field at fault, a safe message."""

    code: str
    field: str
    message: str


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    payload: Any


@dataclass(frozen=True)
class Rejected:
    reason: Reason
    envelope: Envelope | None = None


def _validation_reason(code: str, prefix: str, exc: ValidationError) -> Reason:
    first = violations_of(exc)[0]
    field = f"{prefix}{first.field}" if first.field != "(command)" else prefix.rstrip(".")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return Reason(code, field, f"{first.rule}: {first.message}{more}")


def _refused(code: str, exc: JsonRefusedError) -> Reason:
    return Reason(code, exc.field, f"{exc.rule}: {exc.message}")


def parse_envelope(raw: bytes | None) -> Envelope | Rejected:
    if raw is None or len(raw) == 0:
        # A tombstone (null value) or an empty record: nothing a sender means to say.
        return Rejected(Reason("empty_message", "", "the record has no value"))
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejected(
            Reason(
                "too_large", "", f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}"
            )
        )
    try:
        # The sealed payload is one long string; the message size bounds it.
        document = loads(raw, Limits(string=MAX_MESSAGE_BYTES))
    except JsonRefusedError as exc:
        code = "not_json" if exc.rule in {"not_json", "not_utf8"} else "invalid_envelope"
        return Rejected(_refused(code, exc))
    if not isinstance(document, dict):
        return Rejected(Reason("invalid_envelope", "", "the message must be a JSON object"))
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        reason = _validation_reason("invalid_envelope", "", exc)
        if reason.field == "type":
            reason = Reason("unknown_type_version", "type", reason.message)
        return Rejected(reason)


def check_key(envelope: Envelope, key: bytes | None) -> Reason | None:
    """The record key must be the envelope's ``subject_ref``: per-child order rests on it."""
    if key is None:
        return Reason("key_mismatch", "subject_ref", "the record has no key; use subject_ref")
    if key != envelope.subject_ref.encode():
        return Reason("key_mismatch", "subject_ref", "the record key is not the subject_ref")
    return None


def payload_model(envelope: Envelope) -> type[BaseModel] | None:
    return PAYLOADS.get((envelope.type, envelope.version))


def validate_payload(envelope: Envelope, plaintext: bytes, today: date) -> Decoded | Rejected:
    model = payload_model(envelope)
    if model is None:
        reason = Reason(
            "unknown_type_version", "version", f"no {envelope.type} v{envelope.version}"
        )
        return Rejected(reason, envelope)
    try:
        document = loads(plaintext, root="payload")
    except JsonRefusedError as exc:
        return Rejected(_refused("invalid_payload", exc), envelope)
    try:
        payload = model.model_validate(document, context={"today": today})
    except ValidationError as exc:
        return Rejected(_validation_reason("invalid_payload", "payload.", exc), envelope)
    return Decoded(envelope, payload)


SenderKeys = Callable[[str], Sequence[X25519PublicKey]]
"""The public keys registered now for a sender id (none: unknown or revoked)."""


def not_authenticated(field: str, message: str) -> Reason:
    return Reason("sender_not_authenticated", field, message)


def open_payload(envelope: Envelope, keys: IntakeKeys, senders: SenderKeys) -> bytes | Reason:
    """The payload, if it is sealed to our key by the sender the envelope names."""
    if envelope.payload.alg == BASE_ALGORITHM:
        return not_authenticated(
            "payload.alg",
            "sealed in HPKE base mode, which proves no sender; seal in Auth mode with the "
            "sender's registered key (alg HPKE-AUTH-X25519-SHA256-AES256GCM)",
        )
    registered = senders(envelope.sender)
    if not registered:
        return not_authenticated(
            "sender", "no key is registered for this sender (never registered, or revoked)"
        )
    info = envelope.hpke_info()
    try:
        return keys.open(envelope.payload.kid, envelope.payload.ct, info, registered)
    except SenderNotAuthenticatedError as exc:
        return not_authenticated("payload", str(exc))
    except PayloadSealingError as exc:
        return Reason("payload_unreadable", "payload", str(exc))


def decode(
    raw: bytes | None, key: bytes | None, keys: IntakeKeys, senders: SenderKeys, today: date
) -> Decoded | Rejected:
    """Decode one record; ``key`` is its Kafka key, which must be the ``subject_ref``."""
    envelope = parse_envelope(raw)
    if isinstance(envelope, Rejected):
        return envelope
    mismatch = check_key(envelope, key)
    if mismatch is not None:
        return Rejected(mismatch, envelope)
    if payload_model(envelope) is None:
        reason = Reason(
            "unknown_type_version", "version", f"no {envelope.type} v{envelope.version}"
        )
        return Rejected(reason, envelope)
    plaintext = open_payload(envelope, keys, senders)
    if isinstance(plaintext, Reason):
        return Rejected(plaintext, envelope)
    return validate_payload(envelope, plaintext, today)
