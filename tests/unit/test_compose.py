"""docker-compose.yml gives each service its own credentials and no other's.

No Docker runs here, so this reads the file: each worker service holds
exactly its worker's database roles (WORKER_ROLES) and Kafka principal
(WORKER_PRINCIPALS), and only the one-shot ``setup`` holds an admin's.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from cme.db.roles import WORKER_ROLES, role_env_name
from cme.kafka_access import WORKER_PRINCIPALS
from cme.settings import PROJECT_ROOT


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    return services


@pytest.mark.parametrize("worker", sorted(WORKER_ROLES))
def test_each_worker_service_holds_only_its_own_credentials(worker: str) -> None:
    env = _services()[worker]["environment"]
    assert set(env) >= {"CME_MODE", "CME_KAFKA_BOOTSTRAP_SERVERS"}
    database = {k for k in env if k.startswith("CME_DB_URL_")}
    kafka = {k for k in env if k.startswith("CME_KAFKA_USER_")}
    assert database == {role_env_name(role) for role in WORKER_ROLES[worker]}
    assert kafka == {f"CME_KAFKA_USER_{p.value.upper()}" for p in WORKER_PRINCIPALS[worker]}
    assert "CME_DATABASE_URL" not in env


def test_only_setup_holds_an_admin_credential() -> None:
    holders = {
        name
        for name, service in _services().items()
        if {"CME_DATABASE_URL", "CME_KAFKA_USER_ADMIN"} & set(service.get("environment") or {})
    }
    assert holders == {"setup"}


def test_the_broker_starts_with_the_projects_authenticated_configuration() -> None:
    kafka = _services()["kafka"]
    assert kafka["entrypoint"][-1] == "/cme/kafka/compose-broker.sh"
    script = (PROJECT_ROOT / "scripts" / "kafka" / "compose-broker.sh").read_text()
    for line in (
        "allow.everyone.if.no.acl.found=false",
        "super.users=User:cme-admin",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        '--add-scram "SCRAM-SHA-512=[name=cme-admin',
    ):
        assert line in script
    assert "PLAINTEXT://" not in script.replace("SASL_PLAINTEXT", "")


def test_the_api_trusts_the_issuer_keycloak_puts_in_its_tokens() -> None:
    """Tokens fetched from the host (port 18080) or inside the network carry one issuer."""
    from cme.identity import TokenVerifier
    from cme.idp_realm import REALM
    from cme.settings import load_settings

    services = _services()
    hostname = services["keycloak"]["environment"]["KC_HOSTNAME"]
    api = services["api"]["environment"]
    assert api["CME_OIDC_ISSUER"] == f"{hostname}/realms/{REALM}"
    settings = load_settings(
        oidc_issuer=api["CME_OIDC_ISSUER"],
        oidc_insecure_http=api["CME_OIDC_INSECURE_HTTP"] == "1",
    )
    assert settings.oidc_issuer is not None
    TokenVerifier(  # what the api service builds at start: no "must be https" refusal
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_roles_claim,
        insecure_http=settings.oidc_insecure_http,
    )
