"""AES-256-GCM sealing with associated data: the one cipher primitive of the project.

A sealed value is ``nonce (12 bytes) || ciphertext+tag``. The associated data is
not stored with it: the reader must rebuild it from where it found the value
(child, event, field), which is exactly what makes a moved ciphertext fail.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto_shredding.errors import TamperedCiphertextError

NONCE_BYTES = 12
KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def cipher(key: bytes) -> AESGCM:
    """An AEAD object for ``key``; building one costs more than using it, so callers keep it."""
    return AESGCM(key)


def seal(key: bytes | AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated_data)


def unseal(key: bytes | AESGCM, sealed: bytes, associated_data: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        msg = "sealed value is shorter than a nonce and a tag"
        raise TamperedCiphertextError(msg)
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)
    except InvalidTag:
        msg = "sealed value failed authentication (altered, or not bound to this place)"
        raise TamperedCiphertextError(msg) from None
