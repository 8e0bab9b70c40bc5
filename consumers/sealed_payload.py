"""Sealing upstream payloads to the council's intake key (HPKE, RFC 9180).

Senders encrypt each payload to the intake *public* key, so the upstream topic
never holds personal data in clear and a sender cannot read another's
messages. Only the intake worker holds the private keys. The suite is
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, with the envelope's
identifying fields as HPKE ``info``; any HPKE library can produce it.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto_shredding.kek import generate_dev_secret_file

ALGORITHM = "HPKE-X25519-SHA256-AES256GCM"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class PayloadSealingError(Exception):
    """A payload could not be opened: unknown key id, or altered / misdirected ciphertext."""


@dataclass(frozen=True, repr=False)
class IntakeKeys:
    """The intake private keys by id; the first one is the key senders should use now."""

    keys: dict[str, X25519PrivateKey]
    current: str

    def public_key(self, kid: str | None = None) -> X25519PublicKey:
        return self.keys[kid or self.current].public_key()

    def public_key_b64(self, kid: str | None = None) -> str:
        raw = self.public_key(kid).public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def open(self, kid: str, ct_b64: str, info: bytes) -> bytes:
        key = self.keys.get(kid)
        if key is None:
            msg = f"payload is sealed to intake key {kid!r}, which this worker does not hold"
            raise PayloadSealingError(msg)
        try:
            return _SUITE.decrypt(base64.b64decode(ct_b64, validate=True), key, info=info)
        except (InvalidTag, ValueError, binascii.Error):
            msg = "payload does not open with the intake key (altered, or sealed elsewhere)"
            raise PayloadSealingError(msg) from None

    def __repr__(self) -> str:
        return f"IntakeKeys(kids={list(self.keys)})"


def seal_payload(plaintext: bytes, public_key: X25519PublicKey, info: bytes) -> str:
    return base64.b64encode(_SUITE.encrypt(plaintext, public_key, info=info)).decode()


def public_key_from_b64(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def parse_intake_keys(text: str, source: str) -> IntakeKeys:
    """``kid base64-private-key`` per line (or ``kid:b64`` comma-separated); first is current."""
    keys: dict[str, X25519PrivateKey] = {}
    for raw in text.replace(",", "\n").splitlines():
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        kid, sep, encoded = entry.replace(" ", ":", 1).partition(":")
        try:
            keys[kid] = X25519PrivateKey.from_private_bytes(
                base64.b64decode(encoded, validate=True)
            )
        except (ValueError, binascii.Error):
            msg = f"{source}: intake key {kid!r} is not a base64 X25519 private key"
            raise PayloadSealingError(msg) from None
        if not sep:
            msg = f"{source}: each intake key must be 'kid base64'"
            raise PayloadSealingError(msg)
    if not keys:
        msg = f"{source}: no intake key configured"
        raise PayloadSealingError(msg)
    return IntakeKeys(keys=keys, current=next(iter(keys)))


def load_or_create_dev_intake_keys(path: Path) -> IntakeKeys:
    if not path.exists():
        private = X25519PrivateKey.generate()
        raw = private.private_bytes_raw()
        line = f"intake-{secrets.token_hex(3)} {base64.b64encode(raw).decode()}"
        generate_dev_secret_file(path, "intake key pair", line)
    return parse_intake_keys(path.read_text(), str(path))
