"""PostgreSQL adapters: the key store (role cme_keystore) and the blind index (cme_writer).

Tables are created by ``cme db setup`` (cme/db/setup.sql) so each role needs
only the privileges it uses.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from uuid import UUID

from psycopg_pool import ConnectionPool

from crypto_shredding.keystore import Tombstone, WrappedKey


class PostgresKeyStore:
    """``keystore.data_keys`` and ``keystore.destroyed_keys``."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def add(self, keys: Sequence[WrappedKey]) -> set[UUID]:
        if not keys:
            return set()
        with self._pool.connection() as conn:
            rows = conn.execute(
                "INSERT INTO keystore.data_keys (child_id, kek_id, wrapped_key, expires_on) "
                "SELECT k.child_id, k.kek_id, k.wrapped_key, k.expires_on "
                "FROM unnest(%s::uuid[], %s::text[], %s::bytea[], %s::date[]) "
                "AS k(child_id, kek_id, wrapped_key, expires_on) "
                "WHERE NOT EXISTS (SELECT 1 FROM keystore.destroyed_keys d "
                "WHERE d.child_id = k.child_id) "
                "ON CONFLICT (child_id) DO NOTHING RETURNING child_id",
                (
                    [k.child_id for k in keys],
                    [k.kek_id for k in keys],
                    [k.wrapped for k in keys],
                    [k.expires_on for k in keys],
                ),
            ).fetchall()
        return {r[0] for r in rows}

    def get_many(self, child_ids: Iterable[UUID]) -> dict[UUID, WrappedKey]:
        ids = list(child_ids)
        if not ids:
            return {}
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT child_id, kek_id, wrapped_key, expires_on FROM keystore.data_keys "
                "WHERE child_id = ANY(%s)",
                (ids,),
            ).fetchall()
        return {r[0]: WrappedKey(r[0], r[1], bytes(r[2]), r[3]) for r in rows}

    def tombstones(self, child_ids: Iterable[UUID]) -> dict[UUID, Tombstone]:
        ids = list(child_ids)
        if not ids:
            return {}
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT child_id, destroyed_at, reason FROM keystore.destroyed_keys "
                "WHERE child_id = ANY(%s)",
                (ids,),
            ).fetchall()
        return {r[0]: Tombstone(r[0], r[1], r[2]) for r in rows}

    def destroy(self, child_ids: Sequence[UUID], destroyed_at: datetime, reason: str) -> set[UUID]:
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "WITH gone AS (DELETE FROM keystore.data_keys WHERE child_id = ANY(%s) "
                "RETURNING child_id) "
                "INSERT INTO keystore.destroyed_keys (child_id, destroyed_at, reason) "
                "SELECT child_id, %s, %s FROM gone ON CONFLICT (child_id) DO NOTHING "
                "RETURNING child_id",
                (list(child_ids), destroyed_at, reason),
            ).fetchall()
        return {r[0] for r in rows}

    def set_expiry(self, child_id: UUID, expires_on: date | None) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE keystore.data_keys SET expires_on = %s WHERE child_id = %s",
                (expires_on, child_id),
            )

    def unfinished(self, limit: int) -> list[UUID]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT child_id FROM keystore.destroyed_keys WHERE cascade_completed_at IS NULL "
                "ORDER BY destroyed_at LIMIT %s",
                (limit,),
            ).fetchall()
        return [r[0] for r in rows]

    def mark_cascade_done(self, child_ids: Sequence[UUID], at: datetime) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE keystore.destroyed_keys SET cascade_completed_at = %s "
                "WHERE child_id = ANY(%s)",
                (at, list(child_ids)),
            )

    def due(self, on: date, limit: int, exclude: Collection[UUID] = ()) -> list[UUID]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT child_id FROM keystore.data_keys WHERE expires_on <= %s "
                "AND NOT (child_id = ANY(%s::uuid[])) ORDER BY expires_on, child_id LIMIT %s",
                (on, list(exclude), limit),
            ).fetchall()
        return [r[0] for r in rows]

    def scan(self, batch: int) -> Iterator[list[WrappedKey]]:
        after = UUID(int=0)
        while True:
            with self._pool.connection() as conn:
                rows = conn.execute(
                    "SELECT child_id, kek_id, wrapped_key, expires_on FROM keystore.data_keys "
                    "WHERE child_id > %s ORDER BY child_id LIMIT %s",
                    (after, batch),
                ).fetchall()
            if not rows:
                return
            yield [WrappedKey(r[0], r[1], bytes(r[2]), r[3]) for r in rows]
            after = rows[-1][0]

    def count_by_kek(self) -> dict[str, int]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT kek_id, count(*) FROM keystore.data_keys GROUP BY kek_id"
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def rewrap(self, keys: Sequence[WrappedKey]) -> None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE keystore.data_keys SET kek_id = %s, wrapped_key = %s WHERE child_id = %s",
                [(k.kek_id, k.wrapped, k.child_id) for k in keys],
            )


class PostgresBlindIndex:
    """``matching.blind_index``: HMAC digests of normalised identifiers, per child."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def add(self, child_id: UUID, entries: Iterable[tuple[str, bytes]]) -> None:
        rows = [(child_id, kind, digest) for kind, digest in entries]
        if not rows:
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO matching.blind_index (child_id, kind, digest) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                rows,
            )

    def find(self, kind: str, digest: bytes) -> list[UUID]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT child_id FROM matching.blind_index WHERE kind = %s AND digest = %s "
                "ORDER BY created_at",
                (kind, digest),
            ).fetchall()
        return [r[0] for r in rows]

    def find_many(
        self, entries: Iterable[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], list[UUID]]:
        wanted = list(set(entries))
        if not wanted:
            return {}
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT b.kind, b.digest, b.child_id FROM matching.blind_index b "
                "JOIN unnest(%s::text[], %s::bytea[]) AS w(kind, digest) "
                "ON b.kind = w.kind AND b.digest = w.digest ORDER BY b.created_at",
                ([k for k, _ in wanted], [d for _, d in wanted]),
            ).fetchall()
        found: dict[tuple[str, bytes], list[UUID]] = {}
        for kind, digest, child_id in rows:
            found.setdefault((kind, bytes(digest)), []).append(child_id)
        return found

    def add_many(self, rows: Iterable[tuple[UUID, str, bytes]]) -> None:
        listed = list(rows)
        if not listed:
            return
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO matching.blind_index (child_id, kind, digest) "
                "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[]) ON CONFLICT DO NOTHING",
                ([r[0] for r in listed], [r[1] for r in listed], [r[2] for r in listed]),
            )

    def digests_of(self, child_ids: Sequence[UUID], kind: str) -> dict[UUID, set[bytes]]:
        found: dict[UUID, set[bytes]] = {}
        with self._pool.connection() as conn:
            for child_id, digest in conn.execute(
                "SELECT child_id, digest FROM matching.blind_index "
                "WHERE child_id = ANY(%s) AND kind = %s",
                (list(child_ids), kind),
            ):
                found.setdefault(child_id, set()).add(bytes(digest))
        return found

    def remove_children(self, child_ids: Sequence[UUID]) -> int:
        with self._pool.connection() as conn:
            return conn.execute(
                "DELETE FROM matching.blind_index WHERE child_id = ANY(%s)", (list(child_ids),)
            ).rowcount

    def count_for(self, child_id: UUID) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM matching.blind_index WHERE child_id = %s", (child_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def remove_entries(self, child_id: UUID, kind: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM matching.blind_index WHERE child_id = %s AND kind = %s",
                (child_id, kind),
            )
