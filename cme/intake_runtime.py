"""Composition of the intake worker and of the operator's intake tools."""

from __future__ import annotations

import threading

from cme.bootstrap import build_application
from cme.secrets import load_intake_keys
from cme.settings import Settings
from consumers.intake.service import IntakeService
from consumers.intake.worker import IntakeWorker
from consumers.quarantine import QuarantineCipher
from consumers.quarantine_kafka import KafkaQuarantine


def build_intake_worker(
    settings: Settings, stop: threading.Event
) -> tuple[IntakeWorker, list[object]]:
    app = build_application(settings)
    sink = KafkaQuarantine(settings)
    service = IntakeService(
        app,
        load_intake_keys(settings),
        sink,
        QuarantineCipher(app.data_keys, settings.quarantine_retention_days),
        today=app.today,
    )
    return IntakeWorker(settings, app, service, stop), [sink, app]
