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


def _cmd_kafka_revoke(args: argparse.Namespace) -> int:
    from cme.kafka_access import revoke_principal

    removed = revoke_principal(load_settings(), args.principal)
    print(
        f"{args.principal}: {removed} ACL(s) deleted and its password replaced by one no one "
        "holds (its SCRAM credential is kept: deleting one breaks Kafka 4.1.1 brokers on restart)"
    )
    return 0


def _cmd_idp_setup(args: argparse.Namespace) -> int:
    import os
    import time
    from pathlib import Path

    from cme.idp_realm import REALM, IdentityProviderError, load_or_create_passwords
    from cme.idp_realm import provision_realm as provision

    passwords = load_or_create_passwords(Path(args.passwords_file))
    passwords["admin"] = os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD", passwords["admin"])
    deadline = time.monotonic() + args.wait
    while True:
        try:
            provision(args.url.rstrip("/"), passwords)
            break
        except (OSError, IdentityProviderError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)  # Keycloak is still starting
    print(f"realm {REALM} ready at {args.url.rstrip('/')}/realms/{REALM}")
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
    kafka_revoke = kafka_sub.add_parser(
        "revoke", help="a principal's ACLs deleted and its password replaced (a sender leaving)"
    )
    kafka_revoke.add_argument("principal", help="the SCRAM user name, e.g. school-mis-117001")
    kafka_revoke.set_defaults(handler=_cmd_kafka_revoke)

    idp = sub.add_parser("idp", help="the identity provider (a Keycloak) for the API's sign-in")
    idp_sub = idp.add_subparsers(dest="idp_command", metavar="ACTION", required=True)
    idp_setup = idp_sub.add_parser(
        "setup", help="the cme realm, the cme-api client, the roles and synthetic staff"
    )
    idp_setup.add_argument("url", help="Keycloak's base URL, e.g. http://keycloak:8080")
    idp_setup.add_argument("passwords_file", help="admin's and staff passwords (JSON, 0600)")
    idp_setup.add_argument("--wait", type=float, default=180, help="seconds to wait for it")
    idp_setup.set_defaults(handler=_cmd_idp_setup)
