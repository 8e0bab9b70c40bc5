"""Composition root: builds the application and its adapters for the configured mode.

Embedded mode keeps the event store, the key store and the blind index in
three SQLite files; services mode uses PostgreSQL, each part through its own
least-privilege role. The domain code is the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from urllib.parse import unquote, urlsplit

from psycopg_pool import ConnectionPool

import eventstore.postgres
import eventstore.sqlite
from application import CMEApplication
from application.retention import RetentionJob
from cme.db.roles import Role, role_url
from cme.secrets import load_index_key, load_kek_ring
from cme.settings import Mode, Settings
from consumers.lifecycle import fault_point
from crypto_shredding.blind_index import BlindIndex, BlindIndexStore
from crypto_shredding.data_keys import DataKeys
from crypto_shredding.keystore import KeyStore
from crypto_shredding.locks import file_lock, postgres_lock
from crypto_shredding.mapper import cme_mapper
from crypto_shredding.postgres import PostgresBlindIndex, PostgresKeyStore
from crypto_shredding.sqlite import SqliteBlindIndexStore, SqliteKeyStore


def postgres_env(url: str, schema: str) -> dict[str, str]:
    """The eventsourcing library's POSTGRES_* settings for one role's URL."""
    parts = urlsplit(url)
    return {
        # The library's recorder with the application's reads, writing a batch's
        # new keys and index rows in its events' transaction.
        "PERSISTENCE_MODULE": eventstore.postgres.FACTORY,
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or ""),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "4",
        # Tables are created by `cme db setup` as the admin role, so the writer
        # can append but never alter or drop the history.
        "CREATE_TABLE": "n",
    }


def open_pool(url: str, name: str, max_size: int = 4) -> ConnectionPool:
    # Autocommit: a single-statement read or write needs no BEGIN/COMMIT round
    # trips; multi-statement writes open an explicit transaction.
    pool = ConnectionPool(
        url, min_size=1, max_size=max_size, name=name, open=False, kwargs={"autocommit": True}
    )
    pool.open(wait=True, timeout=15)
    return pool


def key_and_index_stores(
    settings: Settings,
) -> tuple[KeyStore, BlindIndexStore, list[Callable[[], None]]]:
    if settings.effective_mode is Mode.EMBEDDED:
        folder = settings.data_dir / "embedded"
        keystore = SqliteKeyStore(folder / "keystore.db")
        index = SqliteBlindIndexStore(folder / "matching.db")
        return keystore, index, [keystore.close, index.close]
    key_pool = open_pool(role_url(settings, Role.KEYSTORE), "cme-keystore")
    index_pool = open_pool(role_url(settings, Role.WRITER), "cme-matching")
    return (
        PostgresKeyStore(key_pool),
        PostgresBlindIndex(index_pool),
        [key_pool.close, index_pool.close],
    )


def event_store_env(settings: Settings) -> dict[str, str]:
    if settings.effective_mode is Mode.EMBEDDED:
        folder = settings.data_dir / "embedded"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return {
            "PERSISTENCE_MODULE": eventstore.sqlite.FACTORY,
            "SQLITE_DBNAME": str(folder / "events.db"),
        }
    return postgres_env(role_url(settings, Role.WRITER), "eventstore")


class App(CMEApplication):
    """The application as the composition root assembles it: its adapters, closed together.

    The use cases see only the ports; the tools of this package (retention,
    rights, audit, shredding certificates) may use the concrete adapters.
    """

    name = CMEApplication.name
    data_keys: DataKeys
    blind_index: BlindIndex
    closers: list[Callable[[], None]]

    def close(self) -> None:
        super().close()
        for close in getattr(self, "closers", []):
            close()


def build_data_keys(settings: Settings) -> tuple[DataKeys, Callable[[], None]]:
    """Data keys for a reader that is not the application (the projector, auditors)."""
    if settings.effective_mode is Mode.EMBEDDED:
        store = SqliteKeyStore(settings.data_dir / "embedded" / "keystore.db")
        close = store.close
        keystore: KeyStore = store
    else:
        pool = open_pool(role_url(settings, Role.KEYSTORE), "cme-keystore-reader")
        keystore, close = PostgresKeyStore(pool), pool.close
    keys = DataKeys(
        keystore,
        load_kek_ring(settings),
        ttl=settings.key_cache_seconds,
        maxsize=settings.key_cache_size,
    )
    return keys, close


def build_application(
    settings: Settings,
    *,
    today: Callable[[], date] = date.today,
    seal_personal: bool = True,
) -> App:
    keystore, index_store, closers = key_and_index_stores(settings)
    data_keys = DataKeys(
        keystore,
        load_kek_ring(settings),
        ttl=settings.key_cache_seconds,
        maxsize=settings.key_cache_size,
    )
    app = App(
        event_store_env(settings),
        data_keys=data_keys,
        blind_index=BlindIndex(load_index_key(settings), index_store),
        mapper=lambda: cme_mapper(data_keys, seal_personal=seal_personal),
        today=today,
        preload_keys=seal_personal,
    )
    app.closers = closers
    recorder = app.recorder
    if isinstance(recorder, eventstore.postgres.Recorder):
        recorder.batch_written = partial(fault_point, "eventstore:batch-written")
    return app


def build_retention_job(settings: Settings, app: CMEApplication) -> RetentionJob:
    """The age-25 job with the lock of the configured mode."""
    if settings.effective_mode is Mode.EMBEDDED:
        path = settings.data_dir / "embedded" / "retention.lock"
        return RetentionJob(app, lambda: file_lock(path))
    from consumers.quarantine_kafka import KafkaQuarantineEraser  # noqa: PLC0415
    from consumers.upstream_erasure import KafkaUpstreamEraser  # noqa: PLC0415

    return RetentionJob(
        app,
        postgres_lock(role_url(settings, Role.WRITER)),
        quarantine=KafkaQuarantineEraser(settings),
        upstream=KafkaUpstreamEraser(settings, app.tracked_position),
    )
