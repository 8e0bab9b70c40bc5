"""A fresh ``cme_bench`` database on the project's PostgreSQL, so runs never touch real data."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from cme.db.setup import setup_database
from cme.settings import Settings, load_settings
from devtools.services import manager

BENCH_DATABASE = "cme_bench"


def bench_settings() -> Settings:
    """Services up (or configured), and a newly created bench database with our roles."""
    settings = load_settings()
    plan = manager.plan(settings)
    if plan.postgres is not None or plan.kafka is not None:
        manager.up(plan)
    admin = urlsplit(plan.database_url)
    with psycopg.connect(plan.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(BENCH_DATABASE)
            )
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    bench_url = urlunsplit((admin.scheme, admin.netloc, f"/{BENCH_DATABASE}", admin.query, ""))
    configured = settings.model_copy(
        update={"database_url": bench_url, "kafka_bootstrap_servers": plan.bootstrap}
    )
    setup_database(configured)
    return configured
