"""The ``cme`` command: one entry point, one module per command group.

Each subcommand is a thin adapter: it parses arguments, builds what it needs
through :mod:`cme.bootstrap`, calls a use case and prints; the project's
errors become one clear line and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext

from cme import __version__
from cme.cli import (
    audit,
    caseworker,
    demo,
    intake,
    keys,
    projections,
    rights,
    run,
    senders,
    serve,
    services,
    shred,
    status,
    tokens,
)
from cme.cli.arguments import unrecognized
from cme.settings import ConfigurationError, load_settings
from cme.startup import check_settings
from consumers import kafka_io
from consumers.ledger_check import LedgerIntegrityError
from domain.errors import DomainError

Handler = Callable[[argparse.Namespace], int]
GROUPS = (
    status,
    services,
    demo,
    keys,
    intake,
    senders,
    serve,
    run,
    projections,
    audit,
    shred,
    rights,
    caseworker,
    tokens,
)


def build_parser() -> argparse.ArgumentParser:
    from cme.cli.arguments import OneLineParser

    parser = OneLineParser(
        prog="cme",
        description="Children Missing Education data-governance backend.",
    )
    parser.add_argument("--version", action="version", version=f"cme {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(sub)
    _name_leaves(parser)
    return parser


def _name_leaves(parser: argparse.ArgumentParser) -> None:
    """Each subcommand's parser knows itself, so it reports options it does not take."""
    children = [
        child
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for child in action.choices.values()
    ]
    for child in children:
        child.set_defaults(leaf_parser=child)
        _name_leaves(child)


LONG_RUNNING = frozenset({"run", "serve", "demo", "services"})
"""Commands whose Kafka clients keep kafka-python's patient bootstrap (workers, servers)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the subcommand that refuses them, not by `cme`
        leaf: argparse.ArgumentParser = getattr(args, "leaf_parser", parser)
        leaf.error(unrecognized(unknown))
    handler: Handler = args.handler
    try:
        check_settings(load_settings())
        waits = nullcontext() if args.command in LONG_RUNNING else kafka_io.a_person_waits()
        with waits:
            code = handler(args)
        sys.stdout.flush()  # here, where a reader that went away is caught below
        return code
    except BrokenPipeError:
        # Read by `head` or a pager that quit: stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        said = _one_line(exc)
        if said is None:
            raise  # a fault in the code: the traceback is for its developers
        print(said[0], file=sys.stderr)
        return said[1]
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(exc: Exception) -> tuple[str, int] | None:
    """The line and exit code for a mistake or an outage; None for a fault in the code."""
    if isinstance(exc, ConfigurationError):
        return f"configuration error: {exc}", 2
    if isinstance(exc, DomainError):
        # Domain messages name fields and rules, never the values given.
        return f"refused ({exc.rule}): {exc}", 1
    if isinstance(exc, LedgerIntegrityError):
        return f"refused: {exc}", 1
    unreachable = _unreachable(exc)
    if unreachable is not None:
        return unreachable, 3
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot use {exc.filename}: {exc.strerror or type(exc).__name__}", 1
    return None


def _refused_login(servers: str) -> str | None:
    """Why a broker that answers did not serve us: most often, a wrong password.

    A refused SCRAM login reaches kafka-python as a closed socket, and the
    client retries until its timeout as if the broker were down; a person
    needs to be pointed at the password, not at starting the services.
    """
    from kafka.errors import KafkaConnectionError

    from consumers.kafka_io import logins, require_answer

    principals = logins()
    if not principals:
        return None
    try:
        require_answer(servers, timeout=2)
    except KafkaConnectionError:
        return None  # nobody answers: down, not a refused login
    named = ", ".join(
        f"{name} (CME_KAFKA_USER_{role.value.upper()})" for name, role in principals.items()
    )
    return (
        f"did not let {named} in: check that password (or CME_KAFKA_PASSWORDS_FILE) and "
        "the broker's log for 'Failed authentication'; a broker still starting looks the same"
    )


def _unreachable(exc: Exception) -> str | None:
    """One line for a service that cannot be reached, or None for anything else."""
    import psycopg
    import psycopg_pool
    from kafka.errors import (
        AuthorizationError,
        KafkaConnectionError,
        KafkaError,
        KafkaTimeoutError,
    )

    from consumers.kafka_io import logins

    hint = "start the local services with `scripts/services up`, or check the CME_* settings"
    if isinstance(exc, AuthorizationError):
        principals = ", ".join(logins()) or "this client"
        return (
            f"Kafka refused {principals} ({type(exc).__name__}): its ACLs do not allow this; "
            "`cme kafka setup` grants each principal what README's security section lists"
        )
    if isinstance(exc, KafkaError):
        servers = load_settings().kafka_bootstrap_servers or "(not configured)"
        # A refused login ends in one of these (kafka-python sees a closed socket);
        # any other error from a broker that answers is that error, not a password.
        waited = isinstance(exc, KafkaTimeoutError | KafkaConnectionError)
        refused = _refused_login(servers) if waited else None
        if refused is not None:
            return f"Kafka at {servers} answers but {refused} ({type(exc).__name__})"
        return f"cannot reach Kafka at {servers} ({type(exc).__name__}); {hint}"
    if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
        return _postgres_line(exc, hint)
    return None


def _postgres_line(exc: Exception, hint: str) -> str:
    """Why PostgreSQL did not serve us: a pool's probe says; a direct connection is read here."""
    from urllib.parse import urlsplit

    import psycopg

    from cme.db.reach import DatabaseUnreachableError, reason

    if isinstance(exc, DatabaseUnreachableError):
        return str(exc)
    admin = load_settings().database_url
    text = str(exc)
    admins = admin is not None and f'"{urlsplit(admin).username}"' in text
    if isinstance(exc, psycopg.OperationalError) and admin and text.startswith("connection"):
        # A direct connection that failed to open (the admin's in `cme db setup`): the
        # pool's reasons, unless a password was refused for some other role.
        if admins or "password authentication failed" not in text:
            return reason(exc, admin)
        return "PostgreSQL refused a role's password: check CME_DB_URL_<ROLE> or the passwords file"
    return f"cannot reach PostgreSQL ({type(exc).__name__}); {hint}"
