"""`cme status`: version, mode, configured services, parked events."""

from __future__ import annotations

import argparse

from cme import __version__
from cme.settings import load_settings


def _cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(f"cme {__version__}")
    print(f"mode: {settings.effective_mode.value}")
    print(f"data folder: {settings.data_dir}")
    if settings.kafka_bootstrap_servers:
        print(f"kafka: {settings.kafka_bootstrap_servers}")
    from cme.bootstrap import backend_for, read_models

    try:
        store, close = read_models(settings)
    except Exception as exc:
        print(f"read models: not reachable ({type(exc).__name__})")
        return 0
    try:
        parked = len(store.parked())
    finally:
        close()
    hint = "; see `cme projections parked`" if parked else ""
    print(f"read models: {parked} parked event(s){hint}")
    if backend_for(settings).has_kafka:  # the ledger lives with the services
        from cme.db.roles import Role, role_url
        from projections.ledger_store import LedgerReader

        in_ledger = LedgerReader(role_url(settings, Role.AUDITOR)).parked_count()
        hint = "; see `cme audit parked`" if in_ledger else ""
        print(f"ledger: {in_ledger} event(s) parked outside it{hint}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="show version, mode and configured services")
    status.set_defaults(handler=_cmd_status)
