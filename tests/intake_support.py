"""Shared builders for intake tests: sealed messages from synthetic traffic."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from eventsourcing.persistence import Tracking

from cme.synthetic import SyntheticCounty, SyntheticTraffic
from consumers.envelopes import seal_line
from consumers.intake.service import Inbound, IntakeService
from consumers.quarantine import InMemoryQuarantine, QuarantineCipher
from consumers.sealed_payload import IntakeKeys, parse_intake_keys
from domain.application import CMEApplication

TOPIC = "cme.upstream.v1"


def dev_intake_keys() -> IntakeKeys:
    import base64

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    raw = X25519PrivateKey.generate().private_bytes_raw()
    return parse_intake_keys(f"intake-test {base64.b64encode(raw).decode()}", "test")


class IntakeHarness:
    """An intake service on a given application, fed with numbered messages."""

    def __init__(self, app: CMEApplication, seed: int = 1) -> None:
        self.app = app
        self.keys = dev_intake_keys()
        self.quarantine = InMemoryQuarantine()
        self.cipher = QuarantineCipher(app.data_keys, retention_days=30)
        self.service = IntakeService(app, self.keys, self.quarantine, self.cipher)
        self.traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
        self.offset = 0

    def seal(self, line: dict[str, Any]) -> bytes:
        _, raw = seal_line(line, self.keys.current, self.keys.public_key(), date.today())
        return raw

    def seal_unchecked(self, line: dict[str, Any]) -> bytes:
        """Seal without the publisher's local validation, as a careless sender might."""
        from consumers.contract import Envelope
        from consumers.sealed_payload import ALGORITHM, seal_payload

        fields = {k: v for k, v in line.items() if k != "payload"}
        probe = Envelope.model_validate(
            {**fields, "payload": {"alg": ALGORITHM, "kid": self.keys.current, "ct": "0" * 16}}
        )
        ct = seal_payload(
            json.dumps(line["payload"]).encode(), self.keys.public_key(), probe.hpke_info()
        )
        return json.dumps(
            {**fields, "payload": {"alg": ALGORITHM, "kid": self.keys.current, "ct": ct}}
        ).encode()

    def inbound(self, raw: bytes, key: bytes | None = b"ref") -> Inbound:
        self.offset += 1
        return Inbound(raw, key, TOPIC, 0, self.offset)

    def run(self, raws: list[bytes], track: bool = True):  # type: ignore[no-untyped-def]
        batch = [self.inbound(raw) for raw in raws]
        tracking = Tracking(f"intake:{TOPIC}:0", batch[-1].offset) if track and batch else None
        return self.service.process(batch, tracking)

    def bad_json(self, line: dict[str, Any], **changes: Any) -> bytes:
        envelope = json.loads(self.seal(line))
        envelope.update(changes)
        return json.dumps(envelope).encode()
