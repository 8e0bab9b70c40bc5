"""A column added to the read schema reaches read models made before it, without a rebuild."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from projections.schema import TABLES
from projections.store import SqliteReadModels


def test_a_read_model_made_before_a_column_gets_it_at_the_next_start(tmp_path: Path) -> None:
    """case_timeline.joint_with_school (#14): without it, every enquiry's row was parked."""
    path = tmp_path / "caseworker.db"
    models = SqliteReadModels(str(path))
    models.create()
    with sqlite3.connect(path) as conn:  # the table as an earlier version made it
        conn.execute("ALTER TABLE case_timeline DROP COLUMN joint_with_school")
        columns = {row[1] for row in conn.execute("PRAGMA table_info(case_timeline)")}
    assert "joint_with_school" not in columns
    SqliteReadModels(str(path)).create()  # the projector's next start
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(case_timeline)")}
    assert columns == set(TABLES["case_timeline"])
