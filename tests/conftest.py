"""Test tiers: unit tests use in-memory adapters; integration tests use real services.

Integration tests are marked ``integration`` (by folder) and get the real
PostgreSQL and Apache Kafka through the session fixture ``services``. A missing
service fails the test with the command that starts it, never a skip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cme.settings import Settings, load_settings
from devtools.services.keycloak import LocalKeycloak

START_HINT = (
    'start them with `scripts/services up && eval "$(scripts/services env)"`, '
    "or run the whole suite with `make test`"
)


def pytest_report_header() -> str:
    from tests.seeds import BASE_SEED

    return f"synthetic data seed: CME_TEST_SEED={BASE_SEED} (set it to repeat this run's data)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class Services:
    """The real services the integration tests talk to, in this run's own database and topics."""

    settings: Settings
    database_url: str
    bootstrap: str
    prefix: str
    """Topics and consumer groups of this run start with it."""
    keycloak: LocalKeycloak | None = None
    """The project's own identity provider, with the synthetic staff's passwords."""


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    from devtools.services import isolation, manager
    from devtools.services.common import ServiceError

    settings = load_settings()
    try:
        plan = manager.plan(settings)
        if plan.postgres is not None or plan.kafka is not None:
            manager.up(plan)
        admin_url, bootstrap, keycloak = plan.database_url, plan.bootstrap, plan.keycloak
    except (ServiceError, OSError) as exc:
        pytest.fail(f"PostgreSQL/Kafka are not available ({exc}); {START_HINT}", pytrace=False)
    # This run's own database and topics: never the user's `cme` database or `cme.*` topics.
    run = f"{os.getpid():x}{int(time.time()) % 100_000:05d}"
    database, prefix = f"cme_test_{run}", f"test.{run}"
    base = settings.model_copy(
        update={"database_url": admin_url, "kafka_bootstrap_servers": bootstrap}
    )
    configured = isolation.fresh_topics(isolation.fresh_database(base, database), prefix)
    _create_read_models(configured)
    saved = {k: os.environ.get(k) for k in _RUN_ENV}
    os.environ.update(
        {
            "CME_DATABASE_URL": configured.require_database_url(),
            "CME_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CME_TOPIC_UPSTREAM": configured.topic_upstream,
            "CME_TOPIC_QUARANTINE": configured.topic_quarantine,
            "CME_TOPIC_EVENTS": configured.topic_events,
            "CME_KAFKA_GROUP_PREFIX": configured.kafka_group_prefix,
        }
    )
    try:
        yield Services(
            settings=configured,
            database_url=configured.require_database_url(),
            bootstrap=bootstrap,
            prefix=prefix,
            keycloak=keycloak,
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if os.environ.get("CME_TEST_KEEP") != "1":
            isolation.drop_database(admin_url, database)
            isolation.delete_topics(configured, prefix)


_RUN_ENV = (
    "CME_DATABASE_URL",
    "CME_KAFKA_BOOTSTRAP_SERVERS",
    "CME_TOPIC_UPSTREAM",
    "CME_TOPIC_QUARANTINE",
    "CME_TOPIC_EVENTS",
    "CME_KAFKA_GROUP_PREFIX",
)


def _create_read_models(settings: Settings) -> None:
    """The caseworker tables, as the projector makes them on its first start."""
    from cme.bootstrap import read_models

    _, close = read_models(settings)
    close()
