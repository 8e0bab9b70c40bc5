"""Two processes' first start on one fresh embedded store at once (#15, found by CI).

`cme run` in the embedded mode built the API's application and its own at
the same moment; on a fresh SQLite file both created the tables and the
second's record of the library's migration raised IntegrityError, ending the
API (1 run in 20 or so). Reproduced here with two threads: 18 of 20 failed.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cme.bootstrap import build_application
from cme.settings import Settings, load_settings


def test_two_applications_opening_a_fresh_store_at_once_both_open(tmp_path: Path) -> None:
    failures: list[str] = []
    for attempt in range(10):
        settings = load_settings(mode="embedded", data_dir=tmp_path / str(attempt))
        build_application(settings).close()  # the keys and the folder
        (settings.data_dir / "embedded" / "events.db").unlink()  # a fresh event store

        def open_it(settings: Settings = settings) -> None:
            try:
                build_application(settings).close()
            except Exception as exc:  # any failure is the finding
                failures.append(type(exc).__name__)

        threads = [threading.Thread(target=open_it) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
