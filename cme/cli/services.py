"""`cme services`, `cme db setup` and `cme kafka setup`: local services, roles, principals."""

from __future__ import annotations

import argparse
import sys

from cme.cli.arguments import a_principal, an_actor
from cme.listings import Listing, add_format_option, render
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


def _cmd_kafka_principals(args: argparse.Namespace) -> int:
    from cme.kafka_access import principals

    rows = [
        {
            "principal": p.name,
            "scram_credential": "yes" if p.has_credential else "no",
            "acls": len(p.acls),
        }
        for p in principals(load_settings()).values()
    ]
    render(
        [Listing("Kafka principals", ("principal", "scram_credential", "acls"), rows)], args.format
    )
    return 0


def _cmd_kafka_revoke(args: argparse.Namespace) -> int:
    """Preview, then (confirmed, with who and why) take a principal's rights away and record it."""
    from cme.bootstrap import build_application
    from cme.kafka_access import principals, revoke_principal
    from consumers.config import KafkaRole
    from domain.commands import RecordBrokerPrincipalRevoked

    if args.principal == KafkaRole.ADMIN.default_username:
        print(
            "error: the admin principal cannot be revoked (the broker's only super user)",
            file=sys.stderr,
        )
        return 2
    settings = load_settings()
    held = principals(settings).get(args.principal)
    if held is None:
        print(
            "error: the broker knows no principal of that name (no SCRAM credential, no ACL); "
            "`cme kafka principals` lists them",
            file=sys.stderr,
        )
        return 1
    if not args.confirm:
        print(
            f"dry run: revoking {held.name} would delete {len(held.acls)} ACL(s)"
            f"{':' if held.acls else ''}"
        )
        for acl in held.acls:
            print(
                f"  {acl.permission_type.name} {acl.operation.name} on "
                f"{acl.resource_pattern.resource_type.name} {acl.resource_pattern.resource_name}"
            )
        print("and replace its password with one no one holds (its clients are refused at once)")
        print(
            "nothing was changed; to revoke it, run again with --confirm --actor YOUR-ID "
            "--reason WHY (recorded in the event store)",
            file=sys.stderr,
        )
        return 0
    if args.actor is None or args.reason is None:
        print("error: --confirm needs --actor and --reason (both are recorded)", file=sys.stderr)
        return 2
    command = RecordBrokerPrincipalRevoked(
        actor=args.actor, principal=held.name, reason=args.reason, acls_deleted=len(held.acls)
    )  # checked before anything changes
    removed = revoke_principal(settings, held.name)
    app = build_application(settings)
    try:
        app.record_broker_principal_revoked(command.model_copy(update={"acls_deleted": removed}))
    finally:
        app.close()
    print(
        f"{held.name}: {removed} ACL(s) deleted and its password replaced by one no one "
        "holds (its SCRAM credential is kept: deleting one breaks Kafka 4.1.1 brokers on "
        f"restart); recorded as revoked by {args.actor}"
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
    kafka_revoke.add_argument(
        "principal", type=a_principal, help="the SCRAM user name, e.g. school-mis-117001"
    )
    kafka_revoke.add_argument(
        "--confirm", action="store_true", help="do it (without: only show what would go)"
    )
    kafka_revoke.add_argument("--actor", type=an_actor, help="who revokes it (recorded)")
    kafka_revoke.add_argument("--reason", help="why (recorded in the event store)")
    kafka_revoke.set_defaults(handler=_cmd_kafka_revoke)
    kafka_principals = kafka_sub.add_parser(
        "principals", help="every principal the broker knows, with its credential and ACL count"
    )
    add_format_option(kafka_principals)
    kafka_principals.set_defaults(handler=_cmd_kafka_principals)

    idp = sub.add_parser("idp", help="the identity provider (a Keycloak) for the API's sign-in")
    idp_sub = idp.add_subparsers(dest="idp_command", metavar="ACTION", required=True)
    idp_setup = idp_sub.add_parser(
        "setup", help="the cme realm, the cme-api client, the roles and synthetic staff"
    )
    idp_setup.add_argument("url", help="Keycloak's base URL, e.g. http://keycloak:8080")
    idp_setup.add_argument("passwords_file", help="admin's and staff passwords (JSON, 0600)")
    idp_setup.add_argument("--wait", type=float, default=180, help="seconds to wait for it")
    idp_setup.set_defaults(handler=_cmd_idp_setup)
