"""`cme shred verify CHILD_ID`: prove a shredded child's personal data is unreadable everywhere.

Scans every store the system owns for anything of that child that could still
be read — the key store, the event store (every event of the child or naming
the child), the blind index, the caseworker read models, the ledger, and the
events topic — and produces a certificate of what was checked, when, and with
what result, signed with the ledger's checkpoint key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from crypto_shredding.mapper import PERSONAL, PersonalDataMapper
from crypto_shredding.signing import CheckpointSigner
from domain.markers import Unavailable


@dataclass
class Check:
    store: str
    passed: bool
    detail: str


@dataclass
class Certificate:
    child_id: str
    checked_at: str
    checks: list[Check] = field(default_factory=list)
    signature: str = ""
    key_id: str = ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def body(self) -> bytes:
        document = {
            "child_id": self.child_id,
            "checked_at": self.checked_at,
            "result": "shredded" if self.passed else "NOT SHREDDED",
            "checks": [asdict(c) for c in self.checks],
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    def sign(self, signer: CheckpointSigner) -> None:
        self.key_id = signer.key_id
        self.signature = base64.b64encode(signer.sign(self.body())).decode()

    def to_json(self) -> str:
        document = json.loads(self.body())
        document["signature"] = {"alg": "Ed25519", "key_id": self.key_id, "value": self.signature}
        return json.dumps(document, indent=2, sort_keys=True)


def readable_events(mapper: PersonalDataMapper, stored: Iterable[StoredEvent]) -> tuple[int, int]:
    """(events examined, events whose personal part still opens)."""
    examined = readable = 0
    for item in stored:
        examined += 1
        event = mapper.to_domain_event(item)
        personal = getattr(event, PERSONAL, None)
        if personal is not None and not isinstance(personal, Unavailable):
            readable += 1
    return examined, readable


def certify(
    child_id: UUID,
    checks: list[tuple[str, Callable[[], tuple[bool, str]]]],
    signer: CheckpointSigner,
) -> Certificate:
    certificate = Certificate(str(child_id), datetime.now(UTC).isoformat())
    for store, check in checks:
        try:
            passed, detail = check()
        except Exception as exc:
            passed, detail = False, f"could not check: {type(exc).__name__}"
        certificate.checks.append(Check(store, passed, detail))
    certificate.sign(signer)
    return certificate
