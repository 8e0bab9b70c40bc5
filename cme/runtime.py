"""Composition of the workers for `cme run` and the demo (both modes)."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cme.bootstrap import build_application, build_data_keys, open_pool, read_models

__all__ = ["WORKERS", "Running", "retention_scheduler", "run_embedded", "start_workers"]
from cme.db.roles import WORKER_ROLES, Role, role_url
from cme.settings import Settings
from consumers.ledger_check import LedgerIntegrityError
from consumers.lifecycle import where
from consumers.projector import Projector
from consumers.relay import Relay
from crypto_shredding.mapper import cme_mapper

log = logging.getLogger("cme.run")

WORKERS = tuple(WORKER_ROLES)  # intake, relay, projector, ledger, retention, api


class WorkerDiedError(RuntimeError):
    """A worker thread ended on an error, or ended without being asked to stop."""


@dataclass
class Running:
    """Worker threads, their failures, and what to close when they end.

    A worker that dies stops the others and makes ``join`` return the reason,
    so ``cme run`` exits non-zero and a supervisor (systemd, Docker's restart
    policy) starts it again: a live process with a dead worker would keep
    printing its last counts while the lag grew.
    """

    threads: list[threading.Thread] = field(default_factory=list)
    closers: list[Callable[[], Any]] = field(default_factory=list)
    counters: dict[str, Callable[[], dict[str, int]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def start(self, name: str, target: Callable[[], None], stop: threading.Event) -> None:
        def supervised() -> None:
            try:
                target()
            except LedgerIntegrityError as exc:
                # Not a fault in the code but someone else's writes: the message says
                # which entry (ids only); a traceback would say nothing more.
                self.failures[name] = str(exc)
                log.error("worker %s stopped: %s", name, exc)
                stop.set()
                return
            except BaseException as exc:
                self.failures[name] = where(exc)
                log.error(
                    "worker %s died: %s\n%s",
                    name,
                    self.failures[name],
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                stop.set()
                return
            if not stop.is_set():
                self.failures[name] = "ended without being asked to stop"
                log.error("worker %s %s", name, self.failures[name])
                stop.set()

        thread = threading.Thread(target=supervised, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self, stop: threading.Event, report_every: float = 10.0) -> str | None:
        """Wait until stopped or a worker dies; None, or why a worker died."""
        while any(t.is_alive() for t in self.threads):
            if stop.wait(report_every):
                break
            log.info(
                "status %s",
                " ".join(
                    f"{name}[{' '.join(f'{k}={v}' for k, v in counts().items())}]"
                    for name, counts in self.counters.items()
                ),
            )
        for thread in self.threads:
            thread.join(timeout=60)
        for close in self.closers:
            close()
        if not self.failures:
            return None
        return "; ".join(f"worker {name} died: {why}" for name, why in self.failures.items())


def _api_server(settings: Settings, stop: threading.Event) -> Callable[[], None]:
    """The API as one of the workers, shut down when the others are; the port is taken now."""
    from cme.api.app import create_app  # noqa: PLC0415
    from cme.api.serving import bind, server  # noqa: PLC0415

    listener = bind(settings.api_host, settings.api_port)
    api = create_app(settings)

    def serve() -> None:
        log.info("serving the API on http://%s:%s/v1", settings.api_host, settings.api_port)
        server(api, listener, stop)
        if not stop.is_set():
            msg = "the API server ended on its own"
            raise RuntimeError(msg)

    return serve


def start_workers(settings: Settings, names: list[str], stop: threading.Event) -> Running:
    from cme.intake_runtime import build_intake_worker  # noqa: PLC0415

    running = Running()
    # The API first: a busy port refuses the start before any other worker runs.
    for name in sorted(names, key=lambda name: name != "api"):
        if name == "intake":
            worker, closers = build_intake_worker(settings, stop)
            running.closers += [c.close for c in closers]  # type: ignore[attr-defined]
            running.counters["intake"] = worker.counts
            target: Callable[[], None] = worker.run
        elif name == "relay":
            app = build_application(settings)
            relay = Relay(settings, app, stop)
            running.closers.append(app.close)
            running.counters["relay"] = relay.counts
            target = relay.run
        elif name == "projector":
            data_keys, close_keys = build_data_keys(settings)
            store, close_store = read_models(settings)
            projector = Projector(settings, cme_mapper(data_keys), store, stop)
            running.closers += [close_store, close_keys]
            running.counters["projector"] = projector.counts
            target = projector.run
        elif name == "ledger":
            from cme.secrets import load_ledger_signer  # noqa: PLC0415
            from consumers.ledger import LedgerWriter  # noqa: PLC0415

            pool = open_pool(role_url(settings, Role.LEDGER), "cme-ledger")
            writer = LedgerWriter(
                pool, load_ledger_signer(settings), settings.ledger_checkpoint_every
            )
            running.closers.append(pool.close)
            running.counters["ledger"] = writer.counts
            target = partial(writer.run, stop)
        elif name == "retention":
            app = build_application(settings)
            scheduler = retention_scheduler(settings, app)
            running.closers += [scheduler.shutdown, app.close]
            running.counters["retention"] = dict

            def wait_for_stop(stop: threading.Event = stop) -> None:
                stop.wait()

            target = wait_for_stop
        elif name == "api":
            target = _api_server(settings, stop)
        else:
            msg = f"unknown worker {name!r}; the workers are {', '.join(WORKERS)}"
            raise ValueError(msg)
        running.start(name, target, stop)
    return running


def run_embedded(settings: Settings, stop: threading.Event, serve_api: bool = True) -> int:
    """The embedded main job: keep the read models up to date with the SQLite store.

    With ``serve_api`` the API runs beside it, as `cme run` serves it in the
    services mode (development tokens, unless CME_OIDC_ISSUER names a sign-in).
    """
    from consumers.inprocess_feed import catch_up  # noqa: PLC0415

    running = Running()
    serve = _api_server(settings, stop) if serve_api else None  # the port is taken first
    # The store's tables are made before the API builds its own application on
    # them: two first starts at once on a fresh SQLite file raced to record the
    # library's table migration, and the loser's IntegrityError ended the API.
    app = build_application(settings)
    store, close = read_models(settings)
    if serve is not None:
        running.start("api", serve, stop)
    scheduler = retention_scheduler(settings, app)
    log.info("embedded mode: projecting %s into the caseworker read models", settings.data_dir)
    try:
        while not stop.is_set():
            read = catch_up(app, store)
            if read:
                log.info("projected %d events", read)
            stop.wait(1.0)
    finally:
        scheduler.shutdown()
        close()
        app.close()
    died = running.join(stop)
    if died:
        log.error("%s", died)
        return 1
    return 0


def retention_scheduler(settings: Settings, app: Any) -> Any:
    """Apscheduler runs the retention job on CME_SHRED_SCHEDULE (daily by default).

    A missed run (the process was down) runs at the next start: the job
    catches up by itself, since it takes every key expired up to today.
    """
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

    from cme.bootstrap import build_retention_job  # noqa: PLC0415

    job = build_retention_job(settings, app)
    scheduler = BackgroundScheduler(timezone="Europe/London")
    scheduler.add_job(
        job.run,
        CronTrigger.from_crontab(settings.shred_schedule, timezone="Europe/London"),
        id="retention",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    scheduler.add_job(job.run, id="retention-at-start")  # catch up after downtime
    scheduler.start()
    return scheduler
