"""Key-encryption keys: the only secret that wraps every child's data key.

A KEK ring holds the current KEK (which wraps new keys) and older ones (which
still unwrap keys not yet re-wrapped), so rotation is: put a new KEK first,
run ``cme keys rotate``, then retire the old one. :class:`KeyEncryptionKey` is
the seam where a KMS or Vault transit key can replace the local AES key.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto_shredding.errors import KekConfigurationError, UnknownKekError
from crypto_shredding.sealing import KEY_BYTES, cipher, new_key, seal, unseal


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys; a KMS client can implement this."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, child_id: UUID) -> bytes: ...

    def unwrap(self, wrapped: bytes, child_id: UUID) -> bytes: ...


def _wrap_context(key_id: str, child_id: UUID) -> bytes:
    # Binding the wrapped key to its child stops a row being copied onto another child.
    return b"cme.dek.v1|" + key_id.encode() + b"|" + child_id.bytes


@dataclass(frozen=True, repr=False)
class LocalKek:
    """An AES-256-GCM KEK held in this process's memory."""

    key_id: str
    secret: bytes

    @cached_property
    def _aead(self) -> AESGCM:
        return cipher(self.secret)

    def wrap(self, data_key: bytes, child_id: UUID) -> bytes:
        return seal(self._aead, data_key, _wrap_context(self.key_id, child_id))

    def unwrap(self, wrapped: bytes, child_id: UUID) -> bytes:
        return unseal(self._aead, wrapped, _wrap_context(self.key_id, child_id))

    def __repr__(self) -> str:
        return f"LocalKek(key_id={self.key_id!r})"


class KekRing:
    """The current KEK plus the older ones that can still unwrap."""

    def __init__(self, keks: list[KeyEncryptionKey]) -> None:
        if not keks:
            msg = "at least one key-encryption key is needed (CME_KEK or CME_KEK_FILE)"
            raise KekConfigurationError(msg)
        self.current = keks[0]
        self._by_id = {k.key_id: k for k in keks}
        if len(self._by_id) != len(keks):
            msg = "two key-encryption keys share an id"
            raise KekConfigurationError(msg)

    @property
    def key_ids(self) -> list[str]:
        """The current KEK's id first, then the older ones."""
        return list(self._by_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    def get(self, key_id: str) -> KeyEncryptionKey:
        try:
            return self._by_id[key_id]
        except KeyError:
            msg = f"data key is wrapped by KEK {key_id!r}, which is not configured"
            raise UnknownKekError(msg) from None


def parse_keks(text: str, source: str) -> list[KeyEncryptionKey]:
    """Parse ``id:base64`` entries separated by commas or newlines (``id base64`` too)."""
    keks: list[KeyEncryptionKey] = []
    for raw in text.replace(",", "\n").splitlines():
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.replace(" ", ":", 1).partition(":")
        if not sep or not key_id:
            msg = f"{source}: each KEK must be 'id:base64'"
            raise KekConfigurationError(msg)
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            msg = f"{source}: KEK {key_id!r} is not valid base64"
            raise KekConfigurationError(msg) from None
        if len(secret) != KEY_BYTES:
            msg = f"{source}: KEK {key_id!r} must be 32 bytes (256 bits), got {len(secret)}"
            raise KekConfigurationError(msg)
        keks.append(LocalKek(key_id=key_id, secret=secret))
    return keks


def generate_dev_secret_file(path: Path, label: str, line: str) -> None:
    """Write a development secret once, telling the operator it is not for production."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(line + "\n")
    path.chmod(0o600)
    print(
        f"note: generated a development {label} in {path}; in production set it from your "
        "key management system",
        file=sys.stderr,
    )


def new_kek_line() -> str:
    key_id = "kek-" + secrets.token_hex(4)
    return f"{key_id} {base64.b64encode(new_key()).decode()}"
