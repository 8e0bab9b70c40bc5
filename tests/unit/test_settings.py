"""Configuration errors name the variable and never echo a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cme.settings import ConfigurationError, Mode, Settings, load_settings
from consumers.config import KafkaRole


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


def _kafka_settings(tmp_path: Path, **values: object) -> Settings:
    """Settings from these values alone, whatever this shell's CME_KAFKA_* say."""
    return load_settings(data_dir=tmp_path, kafka_passwords_file=None, **values)


@pytest.fixture(autouse=True)
def _no_kafka_credentials_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for role in KafkaRole:
        monkeypatch.delenv(f"CME_KAFKA_USER_{role.value.upper()}", raising=False)
    monkeypatch.delenv("CME_KAFKA_SECURITY_PROTOCOL", raising=False)


def test_without_credentials_a_client_connects_in_plaintext(tmp_path: Path) -> None:
    security = _kafka_settings(tmp_path).kafka_security(KafkaRole.INTAKE)
    assert (security.protocol, security.username, security.password) == ("PLAINTEXT", None, None)


def test_the_local_passwords_file_gives_each_role_its_own_principal(tmp_path: Path) -> None:
    settings = _kafka_settings(tmp_path)
    settings.kafka_passwords_path.parent.mkdir(parents=True)
    settings.kafka_passwords_path.write_text(json.dumps({"intake": "i-pw", "relay": "r-pw"}))
    intake = settings.kafka_security(KafkaRole.INTAKE)
    assert (intake.protocol, intake.username, intake.password) == (
        "SASL_PLAINTEXT",
        "cme-intake",
        "i-pw",
    )
    assert settings.kafka_security(KafkaRole.RELAY).password == "r-pw"
    assert "r-pw" not in repr(settings.kafka_security(KafkaRole.RELAY))


def test_a_given_principal_wins_and_names_itself(tmp_path: Path) -> None:
    settings = _kafka_settings(tmp_path, kafka_user_sender="school-mis-117001:s3cret-pw")
    sender = settings.kafka_security(KafkaRole.SENDER)
    assert (sender.username, sender.password) == ("school-mis-117001", "s3cret-pw")


def test_sasl_without_this_roles_credentials_names_the_variable(tmp_path: Path) -> None:
    settings = _kafka_settings(
        tmp_path, kafka_security_protocol="SASL_SSL", kafka_user_relay="cme-relay:pw"
    )
    with pytest.raises(ConfigurationError, match="CME_KAFKA_USER_INTAKE is not set"):
        settings.kafka_security(KafkaRole.INTAKE)


def test_a_malformed_principal_is_named_and_not_echoed(tmp_path: Path) -> None:
    settings = _kafka_settings(tmp_path, kafka_user_intake="no-colon-hunter2")
    with pytest.raises(ConfigurationError) as refused:
        settings.kafka_security(KafkaRole.INTAKE)
    assert "CME_KAFKA_USER_INTAKE" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_ca_file_means_tls_for_the_credentials_too(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with_user = _kafka_settings(tmp_path, kafka_ssl_cafile=ca, kafka_user_intake="cme-intake:pw")
    assert with_user.kafka_security(KafkaRole.INTAKE).protocol == "SASL_SSL"
    assert (
        _kafka_settings(tmp_path, kafka_ssl_cafile=ca).kafka_security(KafkaRole.INTAKE).protocol
        == "SSL"
    )


def test_a_verifier_is_never_made_from_the_signing_key(tmp_path: Path) -> None:
    from cme.secrets import load_ledger_verifier

    with pytest.raises(ConfigurationError, match="CME_LEDGER_PUBLIC_KEY is not set"):
        load_ledger_verifier(load_settings(data_dir=tmp_path, ledger_public_key=None))
    assert not (tmp_path / "secrets" / "ledger-signing-key").exists()  # nor created one


def test_only_the_api_worker_is_told_where_the_sign_in_is(tmp_path: Path) -> None:
    from cme.db.roles import load_or_create_passwords, passwords_file
    from devtools.services import manager

    settings = _kafka_settings(
        tmp_path,
        database_url="postgresql://cme:admin-pw@127.0.0.1:1/cme",
        kafka_bootstrap_servers="127.0.0.1:2",
        oidc_issuer="https://sign-in.example.gov.uk/realms/cme",
        db_passwords_file=tmp_path / "db-passwords.json",  # never this shell's own file
    )
    load_or_create_passwords(passwords_file(settings))
    plan = manager.Plan(settings, None, None)
    api = manager.worker_env_lines(plan, "api")
    assert "export CME_OIDC_ISSUER=https://sign-in.example.gov.uk/realms/cme" in api
    assert not any("admin-pw" in line for line in api)
    # The ledger's public key, never its signing key: the API verifies, it does not sign.
    signing_key = (tmp_path / "secrets" / "ledger-signing-key").read_text().split()[-1]
    assert any(line.startswith("export CME_LEDGER_PUBLIC_KEY=ledger-") for line in api)
    assert not any(signing_key in line for line in api)
    intake = manager.worker_env_lines(plan, "intake")
    assert not any("CME_OIDC_ISSUER" in line or "CME_LEDGER" in line for line in intake)


def test_the_development_env_keeps_the_ports_it_was_made_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shell that ran eval "$(scripts/services env)" once lost the ports: its next
    `scripts/services status` looked at another checkout's services on the defaults."""
    from cme.db.roles import load_or_create_passwords, passwords_file
    from devtools.services import manager

    monkeypatch.setenv("CME_PG_PORT", "57432")
    monkeypatch.setenv("CME_KAFKA_PORT", "49092")
    monkeypatch.setenv("CME_KEYCLOAK_PORT", "48080")
    settings = _kafka_settings(
        tmp_path,
        database_url="postgresql://cme:admin-pw@127.0.0.1:57432/cme",
        kafka_bootstrap_servers="127.0.0.1:49092",
        db_passwords_file=tmp_path / "db-passwords.json",
    )
    load_or_create_passwords(passwords_file(settings))
    lines = manager.env_lines(manager.Plan(settings, None, None))
    for line in ("CME_PG_PORT=57432", "CME_KAFKA_PORT=49092", "CME_KEYCLOAK_PORT=48080"):
        assert f"export {line}" in lines
