"""Test tiers: unit tests use in-memory adapters; integration tests use real services.

Integration tests are marked ``integration`` (by folder) and get the real
PostgreSQL and Apache Kafka through the session fixture ``services``. A missing
service fails the test with the command that starts it, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cme.settings import Settings, load_settings

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
    """The real services the integration tests talk to."""

    settings: Settings
    database_url: str
    bootstrap: str


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    from cme.services import manager
    from cme.services.common import ServiceError

    settings = load_settings()
    try:
        plan = manager.plan(settings)
        if plan.postgres is not None or plan.kafka is not None:
            manager.up(plan)
        database_url, bootstrap = plan.database_url, plan.bootstrap
    except (ServiceError, OSError) as exc:
        pytest.fail(f"PostgreSQL/Kafka are not available ({exc}); {START_HINT}", pytrace=False)
    os.environ.setdefault("CME_DATABASE_URL", database_url)
    os.environ.setdefault("CME_KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    configured = settings.model_copy(
        update={"database_url": database_url, "kafka_bootstrap_servers": bootstrap}
    )
    yield Services(settings=configured, database_url=database_url, bootstrap=bootstrap)
