"""A column added to the read schema reaches PostgreSQL read models made before it."""

from __future__ import annotations

import psycopg

from cme.bootstrap import read_models
from cme.db.roles import Role, role_url
from projections.schema import TABLES
from tests.conftest import Services


def test_a_column_added_since_the_tables_were_made_is_added_at_the_next_start(
    services: Services,
) -> None:
    """Read in pipeline mode after other statements, the columns once came back as a
    CREATE INDEX's status: the projector died at its start."""
    models, close = read_models(services.settings, Role.PROJECTOR)
    try:
        models.create()
        with psycopg.connect(role_url(services.settings, Role.PROJECTOR)) as conn:
            conn.execute(
                "ALTER TABLE caseworker.case_timeline DROP COLUMN joint_with_school CASCADE"
            )
        models.create()  # the projector's next start
        models.create()  # and the one after: nothing to add
    finally:
        close()
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'caseworker' AND table_name = 'case_timeline'"
        ).fetchall()
    assert {row[0] for row in rows} == set(TABLES["case_timeline"])
