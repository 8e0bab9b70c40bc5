"""Composition root: builds the application and its adapters for the configured mode.

Embedded mode keeps the event store, the key store and the blind index in
three SQLite files; services mode uses PostgreSQL, each part through its own
least-privilege role. The domain code is the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

from psycopg_pool import ConnectionPool

import eventstore.postgres
import eventstore.sqlite
from application import CMEApplication
from application.retention import RetentionJob
from cme.db.reach import probe
from cme.db.roles import Role, role_url
from cme.secrets import load_index_key, load_kek_ring
from cme.settings import ConfigurationError, Mode, Settings
from consumers.lifecycle import fault_point
from crypto_shredding.blind_index import BlindIndex, BlindIndexStore
from crypto_shredding.data_keys import DataKeys
from crypto_shredding.keystore import KeyStore
from crypto_shredding.locks import file_lock, postgres_lock
from crypto_shredding.mapper import cme_mapper
from crypto_shredding.postgres import PostgresBlindIndex, PostgresKeyStore
from crypto_shredding.sqlite import SqliteBlindIndexStore, SqliteKeyStore
from projections.store import PostgresReadModels, SqliteReadModels, SqlReadModels


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
    probe(url)  # a reason in one try, not PoolTimeout after 15 s
    # Autocommit: a single-statement read or write needs no BEGIN/COMMIT round
    # trips; multi-statement writes open an explicit transaction. The check
    # (one empty query per borrow, i.e. per batch) drops connections the server
    # closed: without it, after a restart each dead idle connection cost a
    # worker one failed retry, with backoff up to 30 s, before it resumed.
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        name=name,
        open=False,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
    )
    pool.open(wait=True, timeout=15)
    return pool


Closer = Callable[[], None]
KEY_ROLES = {"app": Role.KEYSTORE, "reader": Role.KEYREADER, "retention": Role.RETENTION}
"""Which key-store role each user of keys connects as (services mode)."""


def data_keys(settings: Settings, store: KeyStore) -> DataKeys:
    """The key ring over the store, refused at start if it lacks a KEK keys still need."""
    keys = DataKeys(
        store,
        load_kek_ring(settings),
        ttl=settings.key_cache_seconds,
        maxsize=settings.key_cache_size,
    )
    missing = keys.unconfigured_keks()
    if missing:
        named = ", ".join(f"{kek!r} ({count} keys)" for kek, count in sorted(missing.items()))
        msg = (
            f"CME_KEK: data keys are wrapped under KEKs it does not hold: {named}; put them "
            "back after the current one and run `cme keys rotate` before removing them"
        )
        raise ConfigurationError(msg)
    return keys


class Backend:
    """Where a mode keeps things: every adapter the composition root builds comes from here.

    The embedded mode keeps the event store, the key store, the blind index and
    the read models in SQLite files under CME_DATA_DIR; the services mode uses
    PostgreSQL, each part through its own least-privilege role, and Kafka.
    ``backend_for`` is the one place that looks at the mode.
    """

    has_kafka = False
    """Topics, the relay and the ledger writer exist only with the services."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def event_store_env(self) -> dict[str, str]:
        raise NotImplementedError

    def key_store(self, purpose: str) -> tuple[KeyStore, Closer]:
        raise NotImplementedError

    def index_store(self) -> tuple[BlindIndexStore, Closer]:
        raise NotImplementedError

    def read_models(self, role: Role) -> tuple[SqlReadModels, Closer]:
        raise NotImplementedError

    def opening(self) -> AbstractContextManager[bool]:
        """Held while an application first opens the store (the embedded mode needs it)."""
        return nullcontext(True)

    def retention_job(self, app: CMEApplication) -> RetentionJob:
        raise NotImplementedError

    def rebuild_read_models(self) -> int:
        """Rebuild the caseworker read models from the event store and swap them in."""
        raise NotImplementedError


class Embedded(Backend):
    @property
    def folder(self) -> Path:
        folder = self.settings.data_dir / "embedded"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def event_store_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": eventstore.sqlite.FACTORY,
            "SQLITE_DBNAME": str(self.folder / "events.db"),
        }

    def key_store(self, purpose: str) -> tuple[KeyStore, Closer]:
        store = SqliteKeyStore(self.folder / "keystore.db")
        return store, store.close

    def index_store(self) -> tuple[BlindIndexStore, Closer]:
        store = SqliteBlindIndexStore(self.folder / "matching.db")
        return store, store.close

    def read_models(self, role: Role) -> tuple[SqlReadModels, Closer]:
        store = SqliteReadModels(str(self.folder / "caseworker.db"))
        store.create()
        return store, store.close

    def opening(self) -> AbstractContextManager[bool]:
        """One first start at a time on a fresh store.

        Two at once both create its tables, and the second's record of the
        library's table migration fails (an IntegrityError that ended `cme run`'s API).
        """
        return file_lock(self.folder / "open.lock", wait=True)

    def retention_job(self, app: CMEApplication) -> RetentionJob:
        path = self.folder / "retention.lock"
        return RetentionJob(app, lambda: file_lock(path))

    def rebuild_read_models(self) -> int:
        from cme.rebuild import rebuild_sqlite  # noqa: PLC0415 - rebuild builds through here

        return rebuild_sqlite(self.settings)


class Services(Backend):
    has_kafka = True

    def event_store_env(self) -> dict[str, str]:
        return postgres_env(role_url(self.settings, Role.WRITER), "eventstore")

    def key_store(self, purpose: str) -> tuple[KeyStore, Closer]:
        role = KEY_ROLES[purpose]
        pool = open_pool(role_url(self.settings, role), f"cme-{role.value}")
        return PostgresKeyStore(pool), pool.close

    def index_store(self) -> tuple[BlindIndexStore, Closer]:
        pool = open_pool(role_url(self.settings, Role.WRITER), "cme-matching")
        return PostgresBlindIndex(pool), pool.close

    def read_models(self, role: Role) -> tuple[SqlReadModels, Closer]:
        pool = open_pool(role_url(self.settings, role), f"cme-{role.value}")
        store = PostgresReadModels(pool)
        if role is Role.PROJECTOR:
            store.create()
        return store, pool.close

    def retention_job(self, app: CMEApplication) -> RetentionJob:
        from consumers.quarantine_kafka import KafkaQuarantineEraser  # noqa: PLC0415
        from consumers.upstream_erasure import KafkaUpstreamEraser  # noqa: PLC0415

        # Its own key store, as the only role that may destroy a key; closed with the app.
        store, close = self.key_store("retention")
        closers = getattr(app, "closers", None)
        if isinstance(closers, list):
            closers.append(close)
        return RetentionJob(
            app,
            postgres_lock(role_url(self.settings, Role.WRITER)),
            quarantine=KafkaQuarantineEraser(self.settings),
            upstream=KafkaUpstreamEraser(self.settings, app.tracked_position),
            keys=data_keys(self.settings, store),
        )

    def rebuild_read_models(self) -> int:
        from cme.rebuild import rebuild_postgres  # noqa: PLC0415 - rebuild builds through here

        return rebuild_postgres(self.settings)


def backend_for(settings: Settings) -> Backend:
    """The one place that looks at the mode."""
    return Embedded(settings) if settings.effective_mode is Mode.EMBEDDED else Services(settings)


def read_models(
    settings: Settings, role: Role = Role.PROJECTOR
) -> tuple[SqlReadModels, Callable[[], None]]:
    """The caseworker read models of the configured mode (created if missing, by the projector)."""
    return backend_for(settings).read_models(role)


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
    keystore, close = backend_for(settings).key_store("reader")
    return data_keys(settings, keystore), close


def build_application(
    settings: Settings,
    *,
    today: Callable[[], date] = date.today,
    seal_personal: bool = True,
) -> App:
    backend = backend_for(settings)
    keystore, close_keys = backend.key_store("app")
    index_store, close_index = backend.index_store()
    keys = data_keys(settings, keystore)
    with backend.opening():
        app = App(
            backend.event_store_env(),
            data_keys=keys,
            blind_index=BlindIndex(load_index_key(settings), index_store),
            mapper=lambda: cme_mapper(keys, seal_personal=seal_personal),
            today=today,
            preload_keys=seal_personal,
        )
    app.closers = [close_keys, close_index]
    recorder = app.recorder
    if isinstance(recorder, eventstore.postgres.Recorder):
        recorder.batch_written = partial(fault_point, "eventstore:batch-written")
    return app


def build_retention_job(settings: Settings, app: CMEApplication) -> RetentionJob:
    """The age-25 job with the lock (and, with Kafka, the topic erasers) of the mode."""
    return backend_for(settings).retention_job(app)
