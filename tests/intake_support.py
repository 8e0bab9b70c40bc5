"""Shared builders for intake tests: sealed messages from synthetic traffic."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eventsourcing.persistence import Tracking

from cme.bootstrap import App
from consumers.envelopes import seal_line
from consumers.intake.service import Inbound, IntakeService
from consumers.quarantine import InMemoryQuarantine, QuarantineCipher
from consumers.sealed_payload import (
    ALGORITHM,
    BASE_ALGORITHM,
    IntakeKeys,
    parse_intake_keys,
    seal_payload,
)
from devtools.senders import registered_in
from devtools.synthetic import SyntheticCounty, SyntheticTraffic

TOPIC = "cme.upstream.v1"


def dev_intake_keys() -> IntakeKeys:
    raw = X25519PrivateKey.generate().private_bytes_raw()
    return parse_intake_keys(f"intake-test {base64.b64encode(raw).decode()}", "test")


class Sealer:
    """Seals lines to an intake public key: as ``cme publish`` does, or as a careless sender.

    ``senders`` holds each sender's private key (registered as it first sends).
    """

    def __init__(
        self, kid: str, public_key: X25519PublicKey, senders: Mapping[str, X25519PrivateKey]
    ) -> None:
        self.kid = kid
        self.public_key = public_key
        self.senders = senders

    def seal(self, line: dict[str, Any]) -> bytes:
        _, raw = seal_line(line, self.kid, self.public_key, self.senders, date.today())
        return raw

    def seal_unchecked(self, line: dict[str, Any]) -> bytes:
        """Seal without the publisher's local validation, as a careless sender might."""
        return self.seal_plaintext(line, json.dumps(line["payload"]).encode())

    def seal_plaintext(
        self,
        line: dict[str, Any],
        plaintext: bytes,
        sealed_by: X25519PrivateKey | None = None,
    ) -> bytes:
        """Seal any bytes as the payload of ``line``'s envelope (by ``sealed_by``, if given)."""
        fields = {k: v for k, v in line.items() if k != "payload"}
        key = sealed_by or self.senders[fields["sender"]]
        ct = seal_payload(plaintext, self.public_key, info_of(fields), key)
        return json.dumps(
            {**fields, "payload": {"alg": ALGORITHM, "kid": self.kid, "ct": ct}}
        ).encode()

    def seal_base_mode(self, line: dict[str, Any]) -> bytes:
        """Sealed as before sender authentication: HPKE base mode, which anyone can do."""
        from cryptography.hazmat.primitives import hpke

        fields = {k: v for k, v in line.items() if k != "payload"}
        suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
        plaintext = json.dumps(line["payload"]).encode()
        ct = base64.b64encode(suite.encrypt(plaintext, self.public_key, info=info_of(fields)))
        payload = {"alg": BASE_ALGORITHM, "kid": self.kid, "ct": ct.decode()}
        return json.dumps({**fields, "payload": payload}).encode()


def info_of(fields: dict[str, Any]) -> bytes:
    """The README's HPKE info, from the envelope's own fields."""
    return "|".join(
        (
            "cme.upstream.v1",
            fields["message_id"],
            fields["type"],
            str(fields["version"]),
            fields["sender"],
            fields["subject_ref"],
        )
    ).encode()


class IntakeHarness(Sealer):
    """An intake service on a given application, fed with numbered messages."""

    def __init__(self, app: App, seed: int = 1) -> None:
        self.keys = dev_intake_keys()
        super().__init__(self.keys.current, self.keys.public_key(), registered_in(app))
        self.app = app
        self.quarantine = InMemoryQuarantine()
        self.cipher = QuarantineCipher(app.data_keys, retention_days=30)
        self.service = IntakeService(app, self.keys, self.quarantine, self.cipher)
        self.traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
        self.offset = 0

    def inbound(self, raw: bytes | None, key: bytes | str | None = "subject_ref") -> Inbound:
        """One record; its key is the envelope's subject_ref, as a well-behaved sender's is."""
        self.offset += 1
        if key == "subject_ref":
            try:
                key = json.loads(raw or b"")["subject_ref"].encode()
            except (ValueError, KeyError, TypeError, AttributeError):
                key = b"ref"
        assert not isinstance(key, str)
        return Inbound(raw, key, TOPIC, 0, self.offset)

    def run(self, raws: list[bytes], track: bool = True):  # type: ignore[no-untyped-def]
        batch = [self.inbound(raw) for raw in raws]
        tracking = Tracking(f"intake:{TOPIC}:0", batch[-1].offset) if track and batch else None
        return self.service.process(batch, tracking)

    def bad_json(self, line: dict[str, Any], **changes: Any) -> bytes:
        envelope = json.loads(self.seal(line))
        envelope.update(changes)
        return json.dumps(envelope).encode()


def hostile_records(
    h: Sealer, t: SyntheticTraffic
) -> list[tuple[str, bytes | None, bytes | None, str, str]]:
    """(name, value, key, code, field) of records that once stopped a worker or slipped through."""
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    line = t.referral(t.new_child())
    ref = line["subject_ref"].encode()
    nul = t.referral(t.new_child())
    nul["payload"]["child"]["legal_surname"] = "Smi\u0000th"
    surrogate = t.referral(t.new_child())
    surrogate_text = json.dumps(surrogate["payload"]).replace(
        json.dumps(surrogate["payload"]["child"]["legal_surname"]), '"Sm\\ud800ith"'
    )
    doubled = t.referral(t.new_child())
    doubled_payload = json.dumps(doubled["payload"])[:-1] + ', "referred_on": "2026-01-01"}'
    named, crowded, long_text = (t.referral(t.new_child()) for _ in range(3))
    envelope = json.loads(h.seal(t.referral(t.new_child())))
    doubled_envelope = json.dumps(envelope)[:-1] + f', "sender": "{envelope["sender"]}"}}'
    return [
        ("deep envelope", deep, b"k-deep", "invalid_envelope", ""),
        (
            "deep sealed payload",
            h.seal_plaintext(line, b"[" * 10_000 + b"]" * 10_000),
            ref,
            "invalid_payload",
            "payload",
        ),
        ("tombstone", None, ref, "empty_message", ""),
        ("empty value", b"", ref, "empty_message", ""),
        (
            "NUL in a surname",
            h.seal_unchecked(nul),
            nul["subject_ref"].encode(),
            "invalid_payload",
            "payload.child.legal_surname",
        ),
        (
            "lone surrogate in a surname",
            h.seal_plaintext(surrogate, surrogate_text.encode()),
            surrogate["subject_ref"].encode(),
            "invalid_payload",
            "payload.child.legal_surname",
        ),
        (
            "duplicate key in the payload",
            h.seal_plaintext(doubled, doubled_payload.encode()),
            doubled["subject_ref"].encode(),
            "invalid_payload",
            "payload",
        ),
        (
            "duplicate key in the envelope",
            doubled_envelope.encode(),
            envelope["subject_ref"].encode(),
            "invalid_envelope",
            "",
        ),
        (
            "a 5,000-digit number",
            b'{"message_id": ' + b"1" * 5000 + b"}",
            b"k",
            "invalid_envelope",
            "",
        ),
        (
            "a number too large for a float",
            b'{"version": 1e400}',
            b"k",
            "invalid_envelope",
            "",
        ),
        (
            "a member name that is someone's name",
            h.seal_plaintext(
                named, json.dumps({**named["payload"], "Jane Synthetic 2014-01-02": 1}).encode()
            ),
            named["subject_ref"].encode(),
            "invalid_payload",
            "payload.*",
        ),
        (
            "too many members",
            h.seal_plaintext(
                crowded,
                json.dumps({**crowded["payload"], **{f"f{i}": i for i in range(300)}}).encode(),
            ),
            crowded["subject_ref"].encode(),
            "invalid_payload",
            "payload",
        ),
        (
            "text longer than any field",
            h.seal_plaintext(
                long_text, json.dumps({**long_text["payload"], "notes": "x" * 9000}).encode()
            ),
            long_text["subject_ref"].encode(),
            "invalid_payload",
            "payload.notes",
        ),
        ("no record key", h.seal(line), None, "key_mismatch", "subject_ref"),
        ("another record key", h.seal(line), b"someone-else", "key_mismatch", "subject_ref"),
    ]
