"""Sealing upstream payloads to the council's intake key (HPKE, RFC 9180, Auth mode).

Senders encrypt each payload to the intake *public* key, so the upstream topic
never holds personal data in clear and a sender cannot read another's
messages. Only the intake worker holds the private keys. The suite is
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, with the envelope's
identifying fields as HPKE ``info``, in mode_auth: the sender's own X25519
key takes part in the key agreement, so a payload opens only against the
public key the council registered for the envelope's ``sender``. Base mode
(anyone with the intake public key can seal) proves nothing about who sent
it and is refused. cryptography's HPKE does base mode only; pyhpke does all
four modes on top of cryptography's primitives.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey, KEMKeyInterface, OpenError

from crypto_shredding.kek import generate_dev_secret_file

ALGORITHM = "HPKE-AUTH-X25519-SHA256-AES256GCM"
BASE_ALGORITHM = "HPKE-X25519-SHA256-AES256GCM"
"""mode_base: anyone holding the intake public key can seal it, so it proves no sender."""
_SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)
ENC_BYTES = 32  # the X25519 ephemeral public key before the ciphertext
TAG_BYTES = 16


class PayloadSealingError(Exception):
    """A payload could not be opened: unknown key id, or altered / misdirected ciphertext."""


class SenderNotAuthenticatedError(PayloadSealingError):
    """The payload opens under none of the keys registered for the envelope's sender."""


def _kem(key: X25519PrivateKey | X25519PublicKey) -> KEMKeyInterface:
    return KEMKey.from_pyca_cryptography_key(key)


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

    def open(self, kid: str, ct_b64: str, info: bytes, senders: Sequence[X25519PublicKey]) -> bytes:
        """The plaintext, if it opens in Auth mode against one of the sender's public keys."""
        key = self.keys.get(kid)
        if key is None:
            msg = f"payload is sealed to intake key {kid!r}, which this worker does not hold"
            raise PayloadSealingError(msg)
        try:
            raw = base64.b64decode(ct_b64, validate=True)
        except (ValueError, binascii.Error):
            msg = "payload ct is not standard base64"
            raise PayloadSealingError(msg) from None
        if len(raw) < ENC_BYTES + TAG_BYTES:
            msg = "payload ct is shorter than enc (32 bytes) and a tag (16 bytes)"
            raise PayloadSealingError(msg)
        enc, ciphertext = raw[:ENC_BYTES], raw[ENC_BYTES:]
        for sender in senders:
            try:
                context = _SUITE.create_recipient_context(enc, _kem(key), info, pks=_kem(sender))
                return context.open(ciphertext)
            except (OpenError, ValueError):
                continue
        msg = (
            "payload does not open as sealed by this sender's registered key for this "
            "envelope (sealed with another key, moved from another envelope, or altered)"
        )
        raise SenderNotAuthenticatedError(msg)

    def __repr__(self) -> str:
        return f"IntakeKeys(kids={list(self.keys)})"


def seal_payload(
    plaintext: bytes, public_key: X25519PublicKey, info: bytes, sender_key: X25519PrivateKey
) -> str:
    """base64(enc || ciphertext): the payload sealed to the intake key, by the sender's key."""
    enc, context = _SUITE.create_sender_context(_kem(public_key), info, sks=_kem(sender_key))
    return base64.b64encode(enc + context.seal(plaintext)).decode()


def public_key_from_b64(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def check_sender_public_key(text: str) -> None:
    """Refuse a key of low order (all zeros, say), which would prove no one's identity.

    Every exchange with such a key gives the same known secret, so anyone
    could make a seal that opens as this sender's.
    """
    try:
        X25519PrivateKey.generate().exchange(public_key_from_b64(text))
    except ValueError:
        msg = (
            "the public key is a point of low order (such as all zeros), which proves no one's "
            "identity; ask the sender for the public half of a freshly generated X25519 key"
        )
        raise PayloadSealingError(msg) from None


def _named_private_keys(
    text: str, source: str, what: str, split: Callable[[str], tuple[str, str, str]]
) -> dict[str, X25519PrivateKey]:
    """X25519 private keys by name, one ``name base64`` a line (or comma-separated)."""
    keys: dict[str, X25519PrivateKey] = {}
    for raw in text.replace(",", "\n").splitlines():
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, encoded = split(entry)
        if not sep or not name:
            msg = f"{source}: each line must be '{what} base64-private-key'"
            raise PayloadSealingError(msg)
        try:
            keys[name] = X25519PrivateKey.from_private_bytes(
                base64.b64decode(encoded, validate=True)
            )
        except (ValueError, binascii.Error):
            msg = f"{source}: the key of {what} {name!r} is not a base64 X25519 private key"
            raise PayloadSealingError(msg) from None
    return keys


def parse_intake_keys(text: str, source: str) -> IntakeKeys:
    """``kid base64-private-key`` per line (or ``kid:b64`` comma-separated); first is current."""
    keys = _named_private_keys(
        text, source, "intake key id", lambda entry: entry.replace(" ", ":", 1).partition(":")
    )
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


def parse_sender_keys(text: str, source: str) -> dict[str, X25519PrivateKey]:
    """``sender base64-private-key`` per line (or ``sender:b64`` comma-separated)."""
    return _named_private_keys(text, source, "sender", _split_sender)


def _split_sender(entry: str) -> tuple[str, str, str]:
    # A sender id has a colon of its own (school-mis:117001); base64 has none.
    return entry.rpartition(" ") if " " in entry else entry.rpartition(":")
