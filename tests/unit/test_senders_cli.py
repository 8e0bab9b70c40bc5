"""`cme senders ...` on the embedded stores: what the council types, and its errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cme.cli import main
from cme.secrets import load_sender_keys
from cme.settings import load_settings

SENDER = "school-mis:117001"


@pytest.fixture(autouse=True)
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CME_SENDER_KEYS", raising=False)
    monkeypatch.delenv("CME_SENDER_KEYS_FILE", raising=False)


def test_generate_registers_the_public_half_and_keeps_the_private_half_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["senders", "add", SENDER, "--generate", "--actor", "staff:dpo-1"]) == 0
    out = capsys.readouterr().out
    keys = load_sender_keys(load_settings())
    public = base64.b64encode(keys[SENDER].public_key().public_bytes_raw()).decode()
    assert f"registered {SENDER}: public key {public}" in out
    assert (tmp_path / "secrets" / "sender-keys").stat().st_mode & 0o777 == 0o600
    assert main(["senders", "list"]) == 0
    assert public in capsys.readouterr().out


def test_a_schools_own_key_is_registered_and_revoked_with_a_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    public = base64.b64encode(X25519PrivateKey.generate().public_key().public_bytes_raw())
    add = ["senders", "add", SENDER, "--public-key", public.decode(), "--actor", "staff:dpo-1"]
    assert main(add) == 0
    assert main(add) == 1  # the same key twice
    assert "already has this key" in capsys.readouterr().err
    revoke = ["senders", "revoke", SENDER, "--reason", "contract ended", "--actor", "staff:dpo-1"]
    assert main(revoke) == 0
    assert main(revoke) == 1
    assert "has no registered key to revoke" in capsys.readouterr().err
    assert main(["senders", "list"]) == 0
    assert "revoked: contract ended" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--public-key", "not-a-key"], "public_key"),
        (["--public-key", base64.b64encode(b"x" * 31).decode()], "public_key"),
    ],
)
def test_a_bad_public_key_is_refused_in_one_line_naming_the_field(
    arguments: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["senders", "add", SENDER, *arguments, "--actor", "staff:dpo-1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert says in err
    assert "not-a-key" not in err


@pytest.mark.parametrize(
    "point",
    [
        bytes(32),  # zero
        bytes([1]) + bytes(31),  # one
        bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    ],
)
def test_a_key_of_low_order_is_refused_and_not_registered(
    point: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any exchange with such a key gives a known secret: anyone could seal as this sender."""
    public = base64.b64encode(point).decode()
    assert main(["senders", "add", SENDER, "--public-key", public, "--actor", "staff:dpo-1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "low order" in err[0]
    assert main(["senders", "list"]) == 0
    assert public not in capsys.readouterr().out


def test_neither_or_both_key_options_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["senders", "add", SENDER, "--actor", "staff:dpo-1"]) == 2
    public = base64.b64encode(X25519PrivateKey.generate().public_key().public_bytes_raw())
    both = ["--public-key", public.decode(), "--generate"]
    assert main(["senders", "add", SENDER, *both, "--actor", "staff:dpo-1"]) == 2
