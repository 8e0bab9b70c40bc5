"""Why PostgreSQL cannot be used, in one line, found in one try rather than a pool's 15 s.

A pool that cannot connect keeps trying until its timeout and then says only
``PoolTimeout``; one direct connection first tells a stopped server, a wrong
password, an unknown host and a missing database apart, each with what to do.
The server's own message is never repeated (it can quote a user name or more).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg

CONNECT_TIMEOUT_SECONDS = 5
START = "start the local services with `scripts/services up`, or check CME_DATABASE_URL"


class DatabaseUnreachableError(psycopg.OperationalError):
    """A connection failed for a reason a person can act on (a transient error to workers)."""


def reason(exc: psycopg.OperationalError, url: str) -> str:
    parts = urlsplit(url)
    where = f"PostgreSQL at {parts.hostname}:{parts.port or 5432}"
    text = str(exc)
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f"{where} refused the password of role {parts.username}: check its "
            "CME_DB_URL_<ROLE> or CME_DB_PASSWORDS_FILE (`cme db setup` writes them)"
        )
    if "does not exist" in text:
        return (
            f"{where} has no such database or role: check the URL, or run `cme db setup` "
            "as the admin"
        )
    if "translate host name" in text or "Name or service not known" in text:
        return f"{where}: unknown host; check the URL"
    if "timeout" in text.lower():
        return f"{where} did not answer within {CONNECT_TIMEOUT_SECONDS} s; {START}"
    if "Connection refused" in text or "No such file" in text:
        return f"nothing answers as {where}; {START}"
    return f"cannot connect to {where} ({type(exc).__name__}); {START}"


def probe(url: str) -> None:
    """Connect once; raise DatabaseUnreachableError with the reason if that fails."""
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachableError(reason(exc, url)) from None
