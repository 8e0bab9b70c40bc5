"""The application contract on the in-memory store and on the embedded SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cme.bootstrap import App, build_application
from cme.settings import load_settings
from tests.contract import ApplicationContract
from tests.factories import in_memory_app


class TestInMemory(ApplicationContract):
    @pytest.fixture
    def app(self) -> App:
        return in_memory_app()

    def raw_store(self, app: App) -> bytes:
        return b"".join(
            bytes(n.state) for n in app.recorder.select_notifications(start=None, limit=10_000)
        )


class TestEmbeddedSQLite(ApplicationContract):
    @pytest.fixture
    def app(self, tmp_path: Path) -> Iterator[App]:
        settings = load_settings(mode="embedded", data_dir=tmp_path)
        application = build_application(settings)
        self.folder = tmp_path / "embedded"
        yield application
        application.close()

    def raw_store(self, app: App) -> bytes:
        # Every byte of the event store and the blind index files, WAL included.
        return b"".join(
            path.read_bytes()
            for path in sorted(self.folder.iterdir())
            if path.name.startswith(("events.db", "matching.db"))
        )
