"""From raw bytes to a validated envelope and payload, or a machine-readable reason why not.

Pure apart from opening the sealed payload; never raises on bad input, and
never puts an input value into a reason (it may be personal data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from consumers.contract import MAX_MESSAGE_BYTES, PAYLOADS, Envelope
from consumers.sealed_payload import IntakeKeys, PayloadSealingError
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


def parse_envelope(raw: bytes) -> Envelope | Rejected:
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejected(
            Reason(
                "too_large", "", f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}"
            )
        )
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(Reason("not_json", "", f"not UTF-8 JSON ({type(exc).__name__})"))
    if not isinstance(document, dict):
        return Rejected(Reason("invalid_envelope", "", "the message must be a JSON object"))
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        reason = _validation_reason("invalid_envelope", "", exc)
        if reason.field == "type":
            reason = Reason("unknown_type_version", "type", reason.message)
        return Rejected(reason)


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
        document = json.loads(plaintext)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = Reason("invalid_payload", "payload", f"not UTF-8 JSON ({type(exc).__name__})")
        return Rejected(reason, envelope)
    try:
        payload = model.model_validate(document, context={"today": today})
    except ValidationError as exc:
        return Rejected(_validation_reason("invalid_payload", "payload.", exc), envelope)
    return Decoded(envelope, payload)


def decode(raw: bytes, keys: IntakeKeys, today: date) -> Decoded | Rejected:
    envelope = parse_envelope(raw)
    if isinstance(envelope, Rejected):
        return envelope
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
