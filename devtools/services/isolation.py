"""A database and a set of topics of its own, for a test run, a benchmark or the demo.

The user's ``cme`` database and ``cme.*`` topics hold their work; a test run
that wrote into them left thousands of synthetic events and dozens of topics
behind, and the demo's clock step destroyed a real quarantine key. Each run
here gets a database made from nothing (roles, schemas, grants, event store)
and topics under its own prefix, and drops them when it ends.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from cme.db.setup import setup_database
from cme.kafka_access import authorizing, provision, revoke_under
from cme.settings import Settings
from consumers import kafka_io
from consumers.config import KafkaRole

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _on_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def fresh_database(settings: Settings, name: str) -> Settings:
    """Drop ``name`` if it exists, create it, set it up; settings that point at it."""
    if not _NAME.match(name):
        msg = f"database name {name!r}: lower-case letters, digits and _ only"
        raise ValueError(msg)
    admin = settings.require_database_url()
    drop_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    configured = settings.model_copy(update={"database_url": _on_database(admin, name)})
    setup_database(configured)
    return configured


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fresh_topics(settings: Settings, prefix: str) -> Settings:
    """Delete any topics under ``prefix.``, create the project's topics there, name them."""
    delete_topics(settings, prefix)
    configured = settings.model_copy(
        update={
            "topic_upstream": f"{prefix}.upstream",
            "topic_quarantine": f"{prefix}.quarantine",
            "topic_events": f"{prefix}.events",
            "kafka_group_prefix": prefix.replace(".", "-"),
        }
    )
    provision(configured)
    return configured


def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix.``, and the ACLs under it; the names."""
    admin = kafka_io.admin(settings, KafkaRole.ADMIN, "isolation")
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(f"{prefix}.")]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
    if authorizing(settings):
        revoke_under(settings, prefix)
    return doomed


def isolated_topics(settings: Settings, prefix: str, partitions: int) -> Settings:
    """Settings naming a fresh set of the project's topics and consumer groups, created now.

    Benchmarks and tests run beside the real topics without reading or
    disturbing them; the topics get the same partitions rule and configs.
    """
    tag = uuid.uuid4().hex[:10]
    configured = settings.model_copy(
        update={
            "topic_upstream": f"{prefix}.{tag}.upstream",
            "topic_quarantine": f"{prefix}.{tag}.quarantine",
            "topic_events": f"{prefix}.{tag}.events",
            "kafka_group_prefix": f"{prefix}-{tag}",
            "kafka_partitions": partitions,
        }
    )
    provision(configured)
    return configured
