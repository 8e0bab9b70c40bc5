"""Configuration errors name the variable and never echo a secret."""

from __future__ import annotations

import pytest

from cme.settings import ConfigurationError, Mode, load_settings


def test_embedded_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CME_DATABASE_URL", raising=False)
    monkeypatch.delenv("CME_MODE", raising=False)
    assert load_settings().effective_mode is Mode.EMBEDDED


def test_database_url_switches_to_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CME_MODE", raising=False)
    monkeypatch.setenv("CME_DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/cme")
    assert load_settings().effective_mode is Mode.SERVICES


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CME_DATABASE_URL", "mysql://u:hunter2secret@host/db"),
        ("CME_KAFKA_BOOTSTRAP_SERVERS", "localhost"),
        ("CME_MODE", "cloud"),
        ("CME_KAFKA_PARTITIONS", "0"),
    ],
)
def test_malformed_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


def test_services_mode_without_database_says_how_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CME_DATABASE_URL", raising=False)
    monkeypatch.setenv("CME_MODE", "services")
    with pytest.raises(ConfigurationError, match="scripts/services up"):
        load_settings()


def test_secrets_are_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_KEK", "k1:c2VjcmV0LWtleS1tYXRlcmlhbA==")
    assert "c2VjcmV0" not in repr(load_settings())
