"""Fixtures for unit tests on the embedded stores (SQLite files in a temporary folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cme.bootstrap import App, build_application
from cme.settings import Settings, load_settings
from tests.factories import TODAY


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(mode="embedded", data_dir=tmp_path)


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """The application on the embedded stores, its clock at ``TODAY``."""
    application = build_application(settings, today=lambda: TODAY)
    yield application
    application.close()
