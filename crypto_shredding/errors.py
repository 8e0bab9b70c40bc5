"""Errors of the key and cipher layer; none of them carries key material or plaintext."""

from __future__ import annotations


class CryptoShreddingError(Exception):
    """Base of the errors raised by the crypto_shredding package."""


class TamperedCiphertextError(CryptoShreddingError):
    """A sealed part failed authentication: altered, or moved to another child, event or field."""


class UnknownDataKeyError(CryptoShreddingError):
    """No data key was ever created for this child (neither live nor destroyed)."""


class UnknownKekError(CryptoShreddingError):
    """A wrapped data key names a key-encryption key that is not configured."""


class KekConfigurationError(CryptoShreddingError):
    """The key-encryption keys are missing or malformed; the message names the setting."""
