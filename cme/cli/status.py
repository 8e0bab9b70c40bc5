"""`cme status`: version, mode, each service and whether it answers, the workers, the backlog.

The read models and the ledger move only while `cme run` runs; the status
says whether it runs here and how far behind the event store each stage is,
so "my change does not show" has its answer in one command.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from cme import __version__
from cme.settings import Settings, load_settings


def _cmd_status(args: argparse.Namespace) -> int:
    from cme.bootstrap import backend_for

    settings = load_settings()
    print(f"cme {__version__}")
    print(f"mode: {settings.effective_mode.value}")
    print(f"data folder: {settings.data_dir}")
    services = backend_for(settings).has_kafka
    database, broker = _services(settings) if services else (True, True)
    _workers(settings, services)
    if database:
        _stores(settings, services)
    return 0 if database and broker else 1  # scripts can wait on it


def _services(settings: Settings) -> tuple[bool, bool]:
    """Each service and whether it answers: the database's answer, then the broker's."""
    from kafka.errors import KafkaConnectionError

    from cme.db.reach import DatabaseUnreachableError, probe
    from cme.db.roles import Role, role_url
    from consumers.kafka_io import require_answer

    url = role_url(settings, Role.WRITER)
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 5432}{parts.path}"
    try:
        probe(url)
        print(f"database: {where} (answers)")
        answers = True
    except DatabaseUnreachableError as exc:
        print(f"database: {where} - {exc}")
        answers = False
    servers = settings.require_kafka()
    try:
        require_answer(servers)
        print(f"kafka: {servers} (answers)")
        broker = True
    except KafkaConnectionError:
        print(f"kafka: {servers} - no broker answers; `scripts/services up` starts the local one")
        broker = False
    return answers, broker


def _workers(settings: Settings, services: bool) -> None:
    from cme.run_marker import running_here

    running = running_here(settings.data_dir)
    for marker in running:
        print(
            f"workers on this machine: running since {marker.started_at} "
            f"(cme run, pid {marker.pid}: {', '.join(marker.workers)})"
        )
    if not running:
        moving = "the read models and the ledger change" if services else "the read models change"
        print(f"workers on this machine: none - {moving} only while `cme run` runs")


def _stores(settings: Settings, services: bool) -> None:
    from cme.bootstrap import build_application, read_models

    app = build_application(settings)
    try:
        stored = app.recorder.max_notification_id() or 0
        relayed = (
            (app.tracked_position(f"relay:{settings.topic_events}") or 0) if services else None
        )
    finally:
        app.close()
    store, close = read_models(settings)
    try:
        parked = len(store.parked())
    finally:
        close()
    backlog = f"events stored: {stored}"
    if relayed is not None:
        backlog += f"; relayed to Kafka: {relayed} ({stored - relayed} to go)"
    if services:
        from cme.db.roles import Role, role_url
        from projections.ledger_store import LedgerReader

        ledger = LedgerReader(role_url(settings, Role.AUDITOR))
        chained = ledger.position()
        backlog += f"; in the ledger: {chained} ({max(0, stored - chained)} to go)"
    print(backlog)
    hint = "; see `cme projections parked`" if parked else ""
    print(f"read models: {parked} parked event(s){hint}")
    if services:
        in_ledger = ledger.parked_count()
        hint = "; see `cme audit parked`" if in_ledger else ""
        print(f"ledger: {in_ledger} event(s) parked outside it{hint}")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser(
        "status", help="version, mode, services, whether the workers run, and the backlog"
    )
    status.set_defaults(handler=_cmd_status)
