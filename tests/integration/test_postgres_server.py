"""The real PostgreSQL: a round trip, and the least-privilege roles of the design."""

from __future__ import annotations

import psycopg
import pytest

from cme.db.roles import Role, role_url
from tests.conftest import Services


def test_round_trip(services: Services) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute("CREATE TEMP TABLE probe (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO probe VALUES (%s, %s)", (1, "synthetic"))
        row = conn.execute("SELECT note FROM probe WHERE id = 1").fetchone()
    assert row == ("synthetic",)


@pytest.mark.parametrize("role", [Role.WRITER, Role.CASEWORKER, Role.AUDITOR, Role.PROJECTOR])
@pytest.mark.parametrize(
    "query",
    [
        "SELECT wrapped_key FROM keystore.data_keys",
        "SELECT expires_on FROM keystore.data_keys",  # the 25th birthday: a date of birth
        "SELECT count(*) FROM keystore.destroyed_keys",
        "DELETE FROM keystore.data_keys",
        "TRUNCATE keystore.data_keys",
    ],
)
def test_only_the_keystore_role_reads_or_destroys_keys(
    services: Services, role: Role, query: str
) -> None:
    with (
        psycopg.connect(role_url(services.settings, role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(query)


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.AUDITOR, Role.PROJECTOR, Role.LEDGER])
def test_only_the_writer_and_keystore_roles_add_keys(services: Services, role: Role) -> None:
    with (
        psycopg.connect(role_url(services.settings, role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(
            "INSERT INTO keystore.data_keys (child_id, kek_id, wrapped_key) "
            "VALUES (gen_random_uuid(), 'k', '\\x00')"
        )


def test_the_writer_adds_a_key_in_its_events_transaction_but_reads_none_back(
    services: Services,
) -> None:
    with psycopg.connect(role_url(services.settings, Role.WRITER)) as conn:
        conn.execute(
            "INSERT INTO keystore.data_keys (child_id, kek_id, wrapped_key) "
            "VALUES (gen_random_uuid(), 'k', '\\x00')"
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM keystore.data_keys")
        conn.rollback()


@pytest.mark.parametrize("role", [Role.KEYSTORE, Role.KEYREADER])
@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM keystore.data_keys",
        "TRUNCATE keystore.data_keys",
        "DELETE FROM keystore.destroyed_keys",
        "INSERT INTO keystore.destroyed_keys VALUES (gen_random_uuid(), now(), 'x')",
        "DROP TABLE keystore.data_keys",
    ],
)
def test_only_the_retention_role_destroys_keys(
    services: Services, role: Role, statement: str
) -> None:
    with (
        psycopg.connect(role_url(services.settings, role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO keystore.data_keys (child_id, kek_id, wrapped_key) "
        "VALUES (gen_random_uuid(), 'k', '\\x00')",
        "UPDATE keystore.data_keys SET expires_on = NULL",
    ],
)
def test_the_key_reader_reads_and_nothing_else(services: Services, statement: str) -> None:
    with psycopg.connect(role_url(services.settings, Role.KEYREADER)) as conn:
        conn.execute("SELECT count(*) FROM keystore.data_keys").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_retention_role_destroys_a_key_and_writes_its_tombstone(services: Services) -> None:
    with psycopg.connect(role_url(services.settings, Role.KEYSTORE)) as conn:
        (child,) = conn.execute(
            "INSERT INTO keystore.data_keys (child_id, kek_id, wrapped_key) "
            "VALUES (gen_random_uuid(), 'k', '\\x00') RETURNING child_id"
        ).fetchone() or (None,)
    with psycopg.connect(role_url(services.settings, Role.RETENTION)) as conn:
        gone = conn.execute(
            "WITH gone AS (DELETE FROM keystore.data_keys WHERE child_id = %s "
            "RETURNING child_id) INSERT INTO keystore.destroyed_keys "
            "SELECT child_id, now(), 'test' FROM gone RETURNING child_id",
            (child,),
        ).fetchall()
    assert gone == [(child,)]


def test_keystore_role_reads_keys(services: Services) -> None:
    with psycopg.connect(role_url(services.settings, Role.KEYSTORE)) as conn:
        count = conn.execute("SELECT count(*) FROM keystore.data_keys").fetchone()
    assert count is not None and count[0] >= 0


def test_caseworker_cannot_read_event_store_or_ledger(services: Services) -> None:
    with psycopg.connect(role_url(services.settings, Role.CASEWORKER)) as conn:
        for schema in ("eventstore", "ledger", "matching"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"CREATE TEMP TABLE t AS SELECT 1 FROM {schema}.nothing")
            conn.rollback()


def test_the_event_store_is_append_only(services: Services) -> None:
    from cme.bootstrap import build_application
    from devtools.synthetic import SyntheticCounty
    from domain.commands import RegisterChild
    from tests.seeds import seed

    # An event to change (on an empty table a row trigger has nothing to refuse).
    app = build_application(services.settings)
    try:
        county = SyntheticCounty(seed=seed("append only"))
        app.register_child(RegisterChild.of(county.register_child()))
    finally:
        app.close()
    # Even the writer, which appends events, cannot change or remove one.
    with psycopg.connect(role_url(services.settings, Role.WRITER)) as conn:
        for statement in (
            "UPDATE eventstore.cme_events SET state = state",
            "DELETE FROM eventstore.cme_events",
            "TRUNCATE eventstore.cme_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_auditor_reads_events_but_cannot_write(services: Services) -> None:
    with psycopg.connect(role_url(services.settings, Role.AUDITOR)) as conn:
        conn.execute("SELECT count(*) FROM eventstore.cme_events").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO eventstore.cme_events"
                " (originator_id, originator_version, topic, state)"
                " VALUES (gen_random_uuid(), 1, 'x', 'x')"
            )


def test_caseworker_cannot_read_events(services: Services) -> None:
    with (
        psycopg.connect(role_url(services.settings, Role.CASEWORKER)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT count(*) FROM eventstore.cme_events")


def test_a_pooled_connection_the_server_closed_is_replaced_not_handed_out(
    services: Services,
) -> None:
    """After a database restart a worker's next batch must not fail on a dead idle connection."""
    from cme.bootstrap import open_pool

    pool = open_pool(role_url(services.settings, Role.AUDITOR), "probe", max_size=1)
    try:
        with pool.connection() as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with psycopg.connect(services.database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        with pool.connection() as conn:
            again = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert again is not None and again[0] != row[0]
    finally:
        pool.close()


def test_a_refused_row_leaves_no_value_in_the_server_log(services: Services) -> None:
    """A refused write logged `DETAIL: Failing row contains (...)`: values no shredding reaches."""
    from pathlib import Path
    from urllib.parse import urlsplit
    from uuid import uuid4

    from cme.settings import PROJECT_ROOT
    from devtools.services.postgres import LocalPostgres

    marker = f"Quillfeather{uuid4().hex}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        assert conn.execute("SHOW log_error_verbosity").fetchone() == ("terse",)
        assert conn.execute("SHOW log_min_error_statement").fetchone() == ("panic",)
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(
                "INSERT INTO caseworker.children (child_id, legal_surname) "
                f"VALUES (NULL, '{marker}')"
            )
    port = urlsplit(services.database_url).port or 5432
    log = LocalPostgres(Path(PROJECT_ROOT / ".local"), port).log
    assert log.exists(), f"no server log at {log}: run the tests with `make test`"
    text = log.read_text(errors="replace")
    assert "null value in column" in text  # the refusal was logged, as a line without values
    assert marker not in text


def test_the_ledger_writer_creates_nothing_in_its_schema(services: Services) -> None:
    """It held CREATE on the ledger schema, which appending never needs."""
    with psycopg.connect(role_url(services.settings, Role.LEDGER)) as conn:
        conn.execute("SELECT count(*) FROM ledger.entries").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE ledger.extra (i int)")
