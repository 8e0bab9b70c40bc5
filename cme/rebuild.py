"""`cme projections rebuild`: the caseworker read models rebuilt from the event store.

The rebuild goes into a fresh schema (or file), straight from the event store
(which keeps the whole history, whatever the topic's retention), then is
swapped in at once. The positions of the Kafka projector are carried over:
the rebuilt models reflect at least what it had applied, and the aggregate
versions they record make any overlap harmless.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from cme.bootstrap import backend_for, build_application
from cme.db.roles import Role
from cme.settings import Settings
from consumers.inprocess_feed import catch_up
from projections.store import PostgresReadModels, SqliteReadModels, SqlReadModels

SCHEMA = "caseworker"
FRESH = "caseworker_rebuild"
OLD = "caseworker_replaced"


def rebuild(settings: Settings) -> int:
    return backend_for(settings).rebuild_read_models()


def _project_everything(settings: Settings, store: SqlReadModels) -> int:
    """Create the read models in ``store`` and feed them the whole event store."""
    store.create()
    app = build_application(settings)
    try:
        return catch_up(app, store)
    finally:
        app.close()


def rebuild_sqlite(settings: Settings) -> int:
    folder = settings.data_dir / "embedded"
    fresh = folder / "caseworker.rebuild.db"
    fresh.unlink(missing_ok=True)
    store = SqliteReadModels(str(fresh))
    try:
        count = _project_everything(settings, store)
    finally:
        store.close()
    fresh.replace(folder / "caseworker.db")
    for suffix in ("-wal", "-shm"):
        Path(f"{folder / 'caseworker.db'}{suffix}").unlink(missing_ok=True)
    print(f"rebuilt the caseworker read models from {count} events")
    return count


def rebuild_postgres(settings: Settings) -> int:
    from psycopg_pool import ConnectionPool  # noqa: PLC0415

    admin = settings.require_database_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(FRESH)))
        conn.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(FRESH), sql.Identifier(Role.PROJECTOR.value)
            )
        )
    pool = ConnectionPool(
        admin,
        min_size=1,
        max_size=2,
        open=True,
        kwargs={"autocommit": True, "options": f"-c role={Role.PROJECTOR.value}"},
    )
    try:
        count = _project_everything(settings, PostgresReadModels(pool, schema=FRESH))
    finally:
        pool.close()
    with psycopg.connect(admin) as conn, conn.transaction():
        # Keep the Kafka projector's positions, then swap the schemas in one go.
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.positions SELECT * FROM {}.positions "
                "WHERE consumer LIKE 'kafka:%%' ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(FRESH), sql.Identifier(SCHEMA))
        )
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(OLD)))
        conn.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(SCHEMA), sql.Identifier(OLD)
            )
        )
        conn.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(FRESH), sql.Identifier(SCHEMA)
            )
        )
        conn.execute(
            sql.SQL("ALTER SCHEMA {} OWNER TO CURRENT_USER").format(sql.Identifier(SCHEMA))
        )
        for statement in (
            "REVOKE ALL ON SCHEMA caseworker FROM PUBLIC",
            "GRANT USAGE, CREATE ON SCHEMA caseworker TO cme_projector",
            "GRANT USAGE ON SCHEMA caseworker TO cme_caseworker",
            "GRANT SELECT ON ALL TABLES IN SCHEMA caseworker TO cme_caseworker",
            "DROP SCHEMA caseworker_replaced CASCADE",
        ):
            conn.execute(statement.encode())
    print(f"rebuilt the caseworker read models from {count} events and swapped them in")
    return count
