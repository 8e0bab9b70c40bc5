"""SQLite adapters for the embedded default: the key store and blind index in their own files.

The key store gets a file of its own so that, like the PostgreSQL schema with
its own role, it can be backed up, permissioned and destroyed separately from
the event store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from crypto_shredding.keystore import Tombstone, WrappedKey

_KEYSTORE_DDL = """
CREATE TABLE IF NOT EXISTS data_keys (
    child_id TEXT PRIMARY KEY, kek_id TEXT NOT NULL, wrapped_key BLOB NOT NULL,
    expires_on TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX IF NOT EXISTS data_keys_expiry ON data_keys (expires_on);
CREATE TABLE IF NOT EXISTS destroyed_keys (
    child_id TEXT PRIMARY KEY, destroyed_at TEXT NOT NULL, reason TEXT NOT NULL,
    cascade_completed_at TEXT);
"""

_BLIND_INDEX_DDL = """
CREATE TABLE IF NOT EXISTS blind_index (
    child_id TEXT NOT NULL, kind TEXT NOT NULL, digest BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (kind, digest, child_id));
CREATE INDEX IF NOT EXISTS blind_index_child ON blind_index (child_id);
"""


class _SqliteFile:
    """One connection per file, serialised by a lock (SQLite has one writer anyway)."""

    def __init__(self, path: Path, ddl: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA secure_delete=ON")  # overwrite deleted keys on disk
        self._conn.executescript(ddl)
        path.chmod(0o600)
        self.lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()


def _wrapped(row: tuple[str, str, bytes, str | None]) -> WrappedKey:
    expires = date.fromisoformat(row[3]) if row[3] else None
    return WrappedKey(UUID(row[0]), row[1], bytes(row[2]), expires)


class SqliteKeyStore:
    """The key store of the embedded mode."""

    def __init__(self, path: Path) -> None:
        self._db = _SqliteFile(path, _KEYSTORE_DDL)

    def close(self) -> None:
        self._db.close()

    def add(self, keys: Sequence[WrappedKey]) -> set[UUID]:
        created = set()
        with self._db.lock:
            conn = self._db.conn
            conn.execute("BEGIN")
            for k in keys:
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO data_keys (child_id, kek_id, wrapped_key, expires_on) "
                    "SELECT ?, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM destroyed_keys WHERE child_id = ?)",
                    (
                        str(k.child_id),
                        k.kek_id,
                        k.wrapped,
                        k.expires_on.isoformat() if k.expires_on else None,
                        str(k.child_id),
                    ),
                ).rowcount
                if inserted:
                    created.add(k.child_id)
            conn.execute("COMMIT")
        return created

    def _select_by_child(self, columns: str, table: str, child_ids: Iterable[UUID]) -> list[Any]:
        """Rows of these children, 500 ids a query (SQLite's bound-parameter limit)."""
        ids = [str(c) for c in child_ids]
        rows: list[Any] = []
        with self._db.lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._db.conn.execute(
                    f"SELECT {columns} FROM {table} WHERE child_id IN ({marks})",  # noqa: S608
                    chunk,
                ).fetchall()
        return rows

    def get_many(self, child_ids: Iterable[UUID]) -> dict[UUID, WrappedKey]:
        rows = self._select_by_child(
            "child_id, kek_id, wrapped_key, expires_on", "data_keys", child_ids
        )
        return {key.child_id: key for key in map(_wrapped, rows)}

    def tombstones(self, child_ids: Iterable[UUID]) -> dict[UUID, Tombstone]:
        rows = self._select_by_child("child_id, destroyed_at, reason", "destroyed_keys", child_ids)
        return {
            UUID(child): Tombstone(UUID(child), datetime.fromisoformat(at), reason)
            for child, at, reason in rows
        }

    def destroy(self, child_ids: Sequence[UUID], destroyed_at: datetime, reason: str) -> set[UUID]:
        destroyed = set()
        with self._db.lock:
            conn = self._db.conn
            conn.execute("BEGIN IMMEDIATE")
            for child_id in child_ids:
                deleted = conn.execute(
                    "DELETE FROM data_keys WHERE child_id = ?", (str(child_id),)
                ).rowcount
                if deleted:
                    conn.execute(
                        "INSERT OR IGNORE INTO destroyed_keys (child_id, destroyed_at, reason) "
                        "VALUES (?, ?, ?)",
                        (str(child_id), destroyed_at.isoformat(), reason),
                    )
                    destroyed.add(child_id)
            conn.execute("COMMIT")
        return destroyed

    def set_expiry(self, child_id: UUID, expires_on: date | None) -> None:
        with self._db.lock:
            self._db.conn.execute(
                "UPDATE data_keys SET expires_on = ? WHERE child_id = ?",
                (expires_on.isoformat() if expires_on else None, str(child_id)),
            )

    def unfinished(self, limit: int) -> list[UUID]:
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT child_id FROM destroyed_keys WHERE cascade_completed_at IS NULL "
                "ORDER BY destroyed_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [UUID(r[0]) for r in rows]

    def mark_cascade_done(self, child_ids: Sequence[UUID], at: datetime) -> None:
        with self._db.lock:
            self._db.conn.executemany(
                "UPDATE destroyed_keys SET cascade_completed_at = ? WHERE child_id = ?",
                [(at.isoformat(), str(child_id)) for child_id in child_ids],
            )

    def due(self, on: date, limit: int, exclude: Collection[UUID] = ()) -> list[UUID]:
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT child_id FROM data_keys WHERE expires_on <= ? "
                "ORDER BY expires_on, child_id LIMIT ?",
                (on.isoformat(), limit + len(exclude)),  # then the excluded are dropped
            ).fetchall()
        return [c for c in (UUID(r[0]) for r in rows) if c not in exclude][:limit]

    def scan(self, batch: int) -> Iterator[list[WrappedKey]]:
        after = str(UUID(int=0))
        while True:
            with self._db.lock:
                rows = self._db.conn.execute(
                    "SELECT child_id, kek_id, wrapped_key, expires_on FROM data_keys "
                    "WHERE child_id > ? ORDER BY child_id LIMIT ?",
                    (after, batch),
                ).fetchall()
            if not rows:
                return
            yield [_wrapped(r) for r in rows]
            after = rows[-1][0]

    def count_by_kek(self) -> dict[str, int]:
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT kek_id, count(*) FROM data_keys GROUP BY kek_id"
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def rewrap(self, keys: Sequence[WrappedKey]) -> None:
        with self._db.lock:
            conn = self._db.conn
            conn.execute("BEGIN")
            conn.executemany(
                "UPDATE data_keys SET kek_id = ?, wrapped_key = ? WHERE child_id = ?",
                [(k.kek_id, k.wrapped, str(k.child_id)) for k in keys],
            )
            conn.execute("COMMIT")


class SqliteBlindIndexStore:
    """The blind index of the embedded mode."""

    def __init__(self, path: Path) -> None:
        self._db = _SqliteFile(path, _BLIND_INDEX_DDL)

    def close(self) -> None:
        self._db.close()

    def add(self, child_id: UUID, entries: Iterable[tuple[str, bytes]]) -> None:
        with self._db.lock:
            self._db.conn.executemany(
                "INSERT OR IGNORE INTO blind_index (child_id, kind, digest) VALUES (?, ?, ?)",
                [(str(child_id), kind, digest) for kind, digest in entries],
            )

    def find(self, kind: str, digest: bytes) -> list[UUID]:
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT child_id FROM blind_index WHERE kind = ? AND digest = ? "
                "ORDER BY created_at",
                (kind, digest),
            ).fetchall()
        return [UUID(r[0]) for r in rows]

    def find_many(
        self, entries: Iterable[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], list[UUID]]:
        found: dict[tuple[str, bytes], list[UUID]] = {}
        for kind, digest in set(entries):
            children = self.find(kind, digest)
            if children:
                found[(kind, digest)] = children
        return found

    def add_many(self, rows: Iterable[tuple[UUID, str, bytes]]) -> None:
        with self._db.lock:
            conn = self._db.conn
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT OR IGNORE INTO blind_index (child_id, kind, digest) VALUES (?, ?, ?)",
                [(str(child_id), kind, digest) for child_id, kind, digest in rows],
            )
            conn.execute("COMMIT")

    def digests_of(self, child_ids: Sequence[UUID], kind: str) -> dict[UUID, set[bytes]]:
        found: dict[UUID, set[bytes]] = {}
        with self._db.lock:
            for child_id in child_ids:
                for (digest,) in self._db.conn.execute(
                    "SELECT digest FROM blind_index WHERE child_id = ? AND kind = ?",
                    (str(child_id), kind),
                ):
                    found.setdefault(child_id, set()).add(bytes(digest))
        return found

    def remove_children(self, child_ids: Sequence[UUID]) -> int:
        with self._db.lock:
            removed = 0
            for child_id in child_ids:
                removed += self._db.conn.execute(
                    "DELETE FROM blind_index WHERE child_id = ?", (str(child_id),)
                ).rowcount
            return removed

    def count_for(self, child_id: UUID) -> int:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT count(*) FROM blind_index WHERE child_id = ?", (str(child_id),)
            ).fetchone()
        return int(row[0])

    def remove_entries(self, child_id: UUID, kind: str) -> None:
        with self._db.lock:
            self._db.conn.execute(
                "DELETE FROM blind_index WHERE child_id = ? AND kind = ?", (str(child_id), kind)
            )
