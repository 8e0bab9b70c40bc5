"""From raw bytes to a validated envelope and payload, or a machine-readable reason why not.

Pure apart from opening the sealed payload; never raises on bad input, and
never puts an input value into a reason (it may be personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from consumers.contract import MAX_MESSAGE_BYTES, PAYLOADS, Envelope
from consumers.sealed_payload import IntakeKeys, PayloadSealingError
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


def decode(
    raw: bytes | None, key: bytes | None, keys: IntakeKeys, today: date
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
    try:
        plaintext = keys.open(envelope.payload.kid, envelope.payload.ct, envelope.hpke_info())
    except PayloadSealingError as exc:
        return Rejected(Reason("payload_unreadable", "payload", str(exc)), envelope)
    return validate_payload(envelope, plaintext, today)
