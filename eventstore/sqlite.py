"""The embedded store: the library's SQLite recorder with the application's reads."""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteFactory, SQLiteProcessRecorder

from eventstore.scanning import ScanningQueries

FACTORY = f"{__name__}:Factory"
"""For the library's PERSISTENCE_MODULE setting."""


class Recorder(ScanningQueries, SQLiteProcessRecorder):
    pass


class Factory(SQLiteFactory):
    process_recorder_class = Recorder
