"""Fixtures the integration tests share: worker processes on fresh topics, the application.

A module sets ``PARTITIONS`` to run its workers on fewer partitions than
the default three (one partition keeps every record in one order).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cme.bootstrap import App, build_application
from devtools.synthetic import SyntheticCounty, SyntheticTraffic
from tests.conftest import Services
from tests.integration.workers import WorkerEnvironment, worker_environment
from tests.seeds import seed


@pytest.fixture
def workers(
    services: Services, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[WorkerEnvironment]:
    partitions = getattr(request.module, "PARTITIONS", 3)
    environment = worker_environment(services.settings, tmp_path, partitions=partitions)
    yield environment
    environment.stop_all()


@pytest.fixture
def app(services: Services) -> Iterator[App]:
    application = build_application(services.settings)
    yield application
    application.close()


@pytest.fixture
def traffic(request: pytest.FixtureRequest) -> SyntheticTraffic:
    return SyntheticTraffic(SyntheticCounty(seed=seed(request.node.name)))
