"""Key material from configuration: the KEK ring and the blind-index key.

Production sets CME_KEK / CME_KEK_FILE and CME_INDEX_KEY / CME_INDEX_KEY_FILE
from its key management; a development checkout gets generated files under
``$CME_DATA_DIR/secrets`` (mode 0600) with a note saying so.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cme.settings import ConfigurationError, Settings
from consumers.sealed_payload import (
    IntakeKeys,
    PayloadSealingError,
    load_or_create_dev_intake_keys,
    parse_intake_keys,
    parse_sender_keys,
    public_key_from_b64,
)
from crypto_shredding.kek import KekRing, generate_dev_secret_file, new_kek_line, parse_keks
from crypto_shredding.sealing import KEY_BYTES, new_key
from crypto_shredding.signing import (
    CheckpointSigner,
    CheckpointVerifier,
    load_or_create_dev_signer,
    parse_signer,
)


def load_kek_ring(settings: Settings) -> KekRing:
    if settings.kek is not None:
        return KekRing(parse_keks(settings.kek.get_secret_value(), "CME_KEK"))
    path = settings.kek_file or settings.secrets_dir / "kek"
    if settings.kek_file is None and not path.exists():
        generate_dev_secret_file(path, "key-encryption key", new_kek_line())
    if not path.exists():
        msg = f"CME_KEK_FILE: {path} does not exist"
        raise ConfigurationError(msg)
    return KekRing(parse_keks(path.read_text(), "CME_KEK_FILE"))


def load_index_key(settings: Settings) -> bytes:
    if settings.index_key is not None:
        return _decode_key(settings.index_key.get_secret_value(), "CME_INDEX_KEY")
    path: Path = settings.index_key_file or settings.secrets_dir / "index-key"
    if settings.index_key_file is None and not path.exists():
        generate_dev_secret_file(path, "blind-index key", base64.b64encode(new_key()).decode())
    if not path.exists():
        msg = f"CME_INDEX_KEY_FILE: {path} does not exist"
        raise ConfigurationError(msg)
    return _decode_key(path.read_text().strip(), "CME_INDEX_KEY_FILE")


def load_intake_keys(settings: Settings) -> IntakeKeys:
    if settings.intake_keys is not None:
        return parse_intake_keys(settings.intake_keys.get_secret_value(), "CME_INTAKE_KEYS")
    if settings.intake_keys_file is not None:
        if not settings.intake_keys_file.exists():
            msg = f"CME_INTAKE_KEYS_FILE: {settings.intake_keys_file} does not exist"
            raise ConfigurationError(msg)
        return parse_intake_keys(settings.intake_keys_file.read_text(), "CME_INTAKE_KEYS_FILE")
    return load_or_create_dev_intake_keys(settings.secrets_dir / "intake-keys")


def sender_keys_path(settings: Settings) -> Path:
    return settings.sender_keys_file or settings.secrets_dir / "sender-keys"


def load_sender_keys(settings: Settings) -> dict[str, X25519PrivateKey]:
    """The senders this process may seal as: CME_SENDER_KEYS, else the keys file (if any)."""
    try:
        if settings.sender_keys is not None:
            return parse_sender_keys(settings.sender_keys.get_secret_value(), "CME_SENDER_KEYS")
        path = sender_keys_path(settings)
        if settings.sender_keys_file is not None and not path.exists():
            msg = f"CME_SENDER_KEYS_FILE: {path} does not exist"
            raise ConfigurationError(msg)
        return parse_sender_keys(path.read_text(), str(path)) if path.exists() else {}
    except PayloadSealingError as exc:
        raise ConfigurationError(str(exc)) from None


def intake_public_key(settings: Settings) -> tuple[str, X25519PublicKey]:
    """The key id and public key a sender seals payloads to."""
    if settings.intake_public_key:
        kid, _, encoded = settings.intake_public_key.partition(":")
        try:
            return kid, public_key_from_b64(encoded)
        except (ValueError, binascii.Error):
            msg = "CME_INTAKE_PUBLIC_KEY: must be 'kid:base64' of an X25519 public key"
            raise ConfigurationError(msg) from None
    keys = load_intake_keys(settings)
    return keys.current, keys.public_key()


def _decode_key(text: str, variable: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        msg = f"{variable}: not valid base64"
        raise ConfigurationError(msg) from None
    if len(key) != KEY_BYTES:
        msg = f"{variable}: must be 32 bytes (256 bits), got {len(key)}"
        raise ConfigurationError(msg)
    return key


def load_ledger_verifier(settings: Settings) -> CheckpointVerifier:
    """The checkpoints' public key, from CME_LEDGER_PUBLIC_KEY only.

    A process that only verifies (the API serving auditors) is given the
    public key alone: it never reads, nor creates, the signing key, so it
    could not sign a forged head.
    """
    if not settings.ledger_public_key:
        msg = (
            "CME_LEDGER_PUBLIC_KEY is not set: give this process the ledger's public key "
            "(`cme audit public-key` prints it; `scripts/services env` sets it locally)"
        )
        raise ConfigurationError(msg)
    try:
        return CheckpointVerifier.from_text(settings.ledger_public_key)
    except ValueError as exc:
        msg = f"CME_LEDGER_PUBLIC_KEY: {exc}"
        raise ConfigurationError(msg) from None


def ledger_public_key_text(settings: Settings) -> str:
    """``kid:base64`` of the checkpoints' public key, as CME_LEDGER_PUBLIC_KEY takes it."""
    signer = load_ledger_signer(settings)
    return f"{signer.key_id}:{signer.public_key_b64()}"


def load_ledger_signer(settings: Settings) -> CheckpointSigner:
    if settings.ledger_signing_key is not None:
        return parse_signer(
            settings.ledger_signing_key.get_secret_value(), "CME_LEDGER_SIGNING_KEY"
        )
    if settings.ledger_signing_key_file is not None:
        path = settings.ledger_signing_key_file
        if not path.exists():
            msg = f"CME_LEDGER_SIGNING_KEY_FILE: {path} does not exist"
            raise ConfigurationError(msg)
        return parse_signer(path.read_text(), "CME_LEDGER_SIGNING_KEY_FILE")
    return load_or_create_dev_signer(settings.secrets_dir / "ledger-signing-key")
