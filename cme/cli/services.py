"""`cme services`, `cme db setup` and `cme kafka setup`: local services, roles, principals."""

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


def _cmd_kafka_setup(args: argparse.Namespace) -> int:
    from cme.kafka_access import authorizing, given_credentials, provision, set_credentials

    settings = load_settings()
    credentials = given_credentials(settings)
    set_credentials(settings, credentials)
    created = provision(settings)
    print(f"topics created: {', '.join(created) or 'none (all present)'}")
    if authorizing(settings):
        print(f"SCRAM credentials set: {', '.join(sorted(credentials)) or 'none given'}")
        print("ACLs granted to every role on these topics and groups")
    else:
        print("no ACLs: the admin connects without SASL (CME_KAFKA_SECURITY_PROTOCOL)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    services = sub.add_parser("services", help="start/stop the local PostgreSQL and Kafka")
    services.add_argument("action", choices=["up", "down", "status", "env"])
    services.set_defaults(handler=_cmd_services)

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    setup = db_sub.add_parser("setup", help="create roles, schemas and grants (idempotent)")
    setup.set_defaults(handler=_cmd_db_setup)

    kafka = sub.add_parser("kafka", help="Kafka administration (as the admin principal)")
    kafka_sub = kafka.add_subparsers(dest="kafka_command", metavar="ACTION", required=True)
    kafka_setup = kafka_sub.add_parser(
        "setup",
        help="topics, each given CME_KAFKA_USER_<ROLE>'s SCRAM credential, every role's ACLs",
    )
    kafka_setup.set_defaults(handler=_cmd_kafka_setup)
