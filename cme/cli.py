"""The ``cme`` command: one entry point, one subcommand per job.

Each subcommand is a thin adapter: it parses arguments, builds what it needs
through :mod:`cme.bootstrap`, and turns the project's errors into one clear line
and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cme import __version__
from cme.settings import ConfigurationError, Mode, load_settings
from domain.errors import DomainError

Handler = Callable[[argparse.Namespace], int]


def _cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(f"cme {__version__}")
    print(f"mode: {settings.effective_mode.value}")
    print(f"data folder: {settings.data_dir}")
    if settings.kafka_bootstrap_servers:
        print(f"kafka: {settings.kafka_bootstrap_servers}")
    from cme.runtime import read_models

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
    if settings.effective_mode is Mode.SERVICES:
        from cme.audit import ledger_parked
        from cme.db.roles import Role, role_url

        in_ledger = ledger_parked(role_url(settings, Role.AUDITOR))
        hint = "; see `cme audit parked`" if in_ledger else ""
        print(f"ledger: {in_ledger} event(s) parked outside it{hint}")
    return 0


def _cmd_services(args: argparse.Namespace) -> int:
    from cme.services.__main__ import main as services_main

    return services_main([args.action])


def _cmd_db_setup(args: argparse.Namespace) -> int:
    from cme.db.setup import setup_database

    setup_database(load_settings())
    print("database roles, schemas and grants are in place")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cme",
        description="Children Missing Education data-governance backend.",
    )
    parser.add_argument("--version", action="version", version=f"cme {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    status = sub.add_parser("status", help="show version, mode and configured services")
    status.set_defaults(handler=_cmd_status)

    services = sub.add_parser("services", help="start/stop the local PostgreSQL and Kafka")
    services.add_argument("action", choices=["up", "down", "status", "env"])
    services.set_defaults(handler=_cmd_services)

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    setup = db_sub.add_parser("setup", help="create roles, schemas and grants (idempotent)")
    setup.set_defaults(handler=_cmd_db_setup)

    from cme import commands

    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        # Domain messages name fields and rules, never the values given.
        print(f"refused ({exc.rule}): {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        unreachable = _unreachable(exc)
        if unreachable is None:
            raise
        print(unreachable, file=sys.stderr)
        return 3


def _unreachable(exc: Exception) -> str | None:
    """One line for a service that cannot be reached, or None for anything else."""
    import psycopg
    import psycopg_pool
    from kafka.errors import KafkaError

    hint = "start the local services with `scripts/services up`, or check the CME_* settings"
    if isinstance(exc, KafkaError):
        servers = load_settings().kafka_bootstrap_servers or "(not configured)"
        return f"cannot reach Kafka at {servers} ({type(exc).__name__}); {hint}"
    if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
        return f"cannot reach PostgreSQL ({type(exc).__name__}); {hint}"
    return None


if __name__ == "__main__":
    sys.exit(main())
