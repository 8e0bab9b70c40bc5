"""Building sealed upstream messages: what `cme publish` does for each line, and tests reuse.

A line is the envelope with its payload in clear (JSON). It is validated with
the same models and rules the intake consumer uses, sealed to the intake
public key with the private key of the line's ``sender`` (HPKE Auth mode),
and returned as the bytes to publish; a bad line gets the same reason the
consumer would give.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from consumers.contract import Envelope
from consumers.intake.decode import Reason, Rejected, parse_envelope, validate_payload
from consumers.sealed_payload import ALGORITHM, seal_payload


class LineRejectedError(Exception):
    """A line to publish is invalid; ``reason`` is what the consumer would have said."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"{reason.code} {reason.field}: {reason.message}".strip())
        self.reason = reason


def seal_line(
    line: dict[str, Any],
    kid: str,
    public_key: X25519PublicKey,
    sender_keys: Mapping[str, X25519PrivateKey],
    today: date | None = None,
) -> tuple[Envelope, bytes]:
    """The sealed envelope for one plain line, and the bytes to publish.

    ``sender_keys`` holds the private key of each sender this process may
    seal as (a school's system holds its own alone).
    """
    if not isinstance(line, dict) or not isinstance(line.get("payload"), dict):
        raise LineRejectedError(Reason("invalid_envelope", "payload", "a JSON object is required"))
    fields = {k: v for k, v in line.items() if k != "payload"}
    fields.setdefault("message_id", f"msg-{uuid.uuid4()}")
    fields.setdefault("occurred_at", datetime.now(UTC).isoformat())
    plaintext = json.dumps(line["payload"], default=str).encode()
    # Validate the envelope with a placeholder seal first, to get its info bytes.
    probe = parse_envelope(
        json.dumps({**fields, "payload": {"alg": ALGORITHM, "kid": kid, "ct": "0" * 16}}).encode()
    )
    if isinstance(probe, Rejected):
        raise LineRejectedError(probe.reason)
    checked = validate_payload(probe, plaintext, today or date.today())
    if isinstance(checked, Rejected):
        raise LineRejectedError(checked.reason)
    try:
        sender_key = sender_keys[probe.sender]
    except KeyError:
        reason = Reason(
            "no_sender_key",
            "sender",
            "this process holds no private key for the line's sender "
            "(CME_SENDER_KEYS_FILE; `cme senders add SENDER --generate` makes one)",
        )
        raise LineRejectedError(reason) from None
    sealed = seal_payload(plaintext, public_key, probe.hpke_info(), sender_key)
    envelope = probe.model_copy(update={"payload": probe.payload.model_copy(update={"ct": sealed})})
    return envelope, envelope.model_dump_json().encode()
