"""Every setting checked when a process starts, not when it is first used.

A key given in the environment is parsed at once, so a mistyped key stops
``cme status`` as surely as ``cme run``, with the variable named and the
value never repeated. Only what is set explicitly is read here: the
development files under the data folder are made on first use, not by a check.
"""

from __future__ import annotations

from cme.secrets import (
    intake_public_key,
    load_index_key,
    load_intake_keys,
    load_kek_ring,
    load_ledger_signer,
    load_ledger_verifier,
    load_sender_keys,
)
from cme.settings import ConfigurationError, Settings
from consumers.sealed_payload import PayloadSealingError
from crypto_shredding.errors import KekConfigurationError


def check_settings(settings: Settings) -> None:
    """Raise ConfigurationError naming the first variable whose value is unusable."""
    checks = (
        (settings.kek or settings.kek_file, load_kek_ring),
        (settings.index_key or settings.index_key_file, load_index_key),
        (settings.intake_keys or settings.intake_keys_file, load_intake_keys),
        (settings.ledger_signing_key or settings.ledger_signing_key_file, load_ledger_signer),
        # `cme senders add --generate` makes the file: missing is no mistake until it is read.
        (
            settings.sender_keys
            or (settings.sender_keys_file and settings.sender_keys_file.exists()),
            load_sender_keys,
        ),
        (settings.intake_public_key, intake_public_key),
        (settings.ledger_public_key, load_ledger_verifier),
    )
    for given, load in checks:
        if not given:
            continue
        try:
            load(settings)
        except (KekConfigurationError, PayloadSealingError) as exc:
            raise ConfigurationError(str(exc)) from None
