"""`cme services up|down|status|env` and `cme db setup`: local services and database roles."""

from __future__ import annotations

import argparse

from cme.settings import load_settings


def _cmd_services(args: argparse.Namespace) -> int:
    from devtools.services.__main__ import main as services_main

    return services_main([args.action])


def _cmd_db_setup(args: argparse.Namespace) -> int:
    from cme.db.setup import setup_database

    setup_database(load_settings())
    print("database roles, schemas and grants are in place")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    services = sub.add_parser("services", help="start/stop the local PostgreSQL and Kafka")
    services.add_argument("action", choices=["up", "down", "status", "env"])
    services.set_defaults(handler=_cmd_services)

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    setup = db_sub.add_parser("setup", help="create roles, schemas and grants (idempotent)")
    setup.set_defaults(handler=_cmd_db_setup)
