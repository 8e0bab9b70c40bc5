"""The in-memory store (unit tests): the library's recorder with the application's reads."""

from __future__ import annotations

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.popo import POPOFactory, POPOProcessRecorder

from eventstore.scanning import ScanningQueries

FACTORY = f"{__name__}:Factory"
"""For the library's PERSISTENCE_MODULE setting."""


class Recorder(ScanningQueries, POPOProcessRecorder):
    pass


class Factory(POPOFactory):
    def process_recorder(self) -> ProcessRecorder:
        return Recorder()
