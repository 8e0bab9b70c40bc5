"""The application contract on the real PostgreSQL, through the least-privilege roles."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from uuid import UUID

import pytest

from cme.bootstrap import App, build_application
from devtools.services.postgres import bin_dir
from tests.conftest import Services
from tests.contract import ApplicationContract
from tests.integration.workers import destroy_key


class TestPostgreSQL(ApplicationContract):
    @pytest.fixture
    def app(self, services: Services) -> Iterator[App]:
        self.database_url = services.database_url
        self.settings = services.settings
        application = build_application(services.settings)
        yield application
        application.close()

    def destroy_key(self, app: App, child_id: UUID, reason: str) -> None:
        destroy_key(self.settings, child_id, reason)  # only the retention role may

    def raw_store(self, app: App) -> bytes:
        # What a stolen backup would hold: a pg_dump of the write side's schemas.
        dump = subprocess.run(
            [
                str(bin_dir() / "pg_dump"),
                "--data-only",
                "--schema=eventstore",
                "--schema=matching",
                "--schema=keystore",
                self.database_url,
            ],
            capture_output=True,
            check=True,
        )
        return dump.stdout
