"""Ed25519 signing of ledger checkpoints: who holds the key can vouch for the chain's head."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto_shredding.errors import KekConfigurationError
from crypto_shredding.kek import generate_dev_secret_file


@dataclass(frozen=True, repr=False)
class CheckpointSigner:
    key_id: str
    private_key: Ed25519PrivateKey

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def public_key_b64(self) -> str:
        return base64.b64encode(self.private_key.public_key().public_bytes_raw()).decode()

    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier({self.key_id: self.private_key.public_key()})

    def __repr__(self) -> str:
        return f"CheckpointSigner(key_id={self.key_id!r})"


@dataclass(frozen=True)
class CheckpointVerifier:
    public_keys: dict[str, Ed25519PublicKey]

    def valid(self, key_id: str, message: bytes, signature: bytes) -> bool:
        key = self.public_keys.get(key_id)
        if key is None:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_text(cls, text: str) -> CheckpointVerifier:
        """``kid:base64`` public keys, comma-separated (as `cme audit public-key` prints)."""
        keys = {}
        for item in text.split(","):
            kid, _, encoded = item.strip().partition(":")
            try:
                if not kid:
                    raise ValueError
                keys[kid] = Ed25519PublicKey.from_public_bytes(
                    base64.b64decode(encoded, validate=True)
                )
            except (ValueError, binascii.Error):
                msg = "must be 'kid:base64' of a raw Ed25519 public key (`cme audit public-key`)"
                raise ValueError(msg) from None
        return cls(keys)


def parse_signer(text: str, source: str) -> CheckpointSigner:
    kid, _, encoded = text.strip().replace(" ", ":", 1).partition(":")
    try:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error):
        msg = f"{source}: must be 'kid base64' of a raw Ed25519 private key"
        raise KekConfigurationError(msg) from None
    return CheckpointSigner(kid, key)


def load_or_create_dev_signer(path: Path) -> CheckpointSigner:
    if not path.exists():
        raw = Ed25519PrivateKey.generate().private_bytes_raw()
        generate_dev_secret_file(
            path,
            "ledger signing key",
            f"ledger-{secrets.token_hex(3)} {base64.b64encode(raw).decode()}",
        )
    return parse_signer(path.read_text(), str(path))
