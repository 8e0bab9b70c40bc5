"""Shredding benchmark: a subject access package in a large store, then everyone turns 25.

One store serves both figures: children with their events and disclosures
(at least a million events), keys expiring on each 25th birthday, blind-index
rows, and the caseworker read models holding every child's registration.

- SAR: ``cme rights access`` for randomly chosen children, p50/p95, beside the
  library's own read of one child's events in the same run.
- Shredding: the retention job run as if on a day after every 25th birthday
  (keys destroyed, blind index cleared, ``PersonalDataShredded`` recorded),
  then the read models taking the redactions in; beside a raw PostgreSQL
  delete-and-tombstone of the same number of key rows.
"""

from __future__ import annotations

import random
import statistics
from datetime import date
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic
from rich.progress import Progress

from application.subject_access import access_package
from cme.bootstrap import App, build_application, build_retention_job, read_models
from cme.settings import Settings
from consumers.inprocess_feed import CONSUMER, catch_up
from consumers.projection_feed import project_stored
from crypto_shredding.mapper import cme_mapper
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.bench.store import build_store
from domain.child import Child
from projections.store import SqlReadModels

EVERYONE_IS_25 = date(2100, 1, 1)
BATCH = 1000


def _seed_read_models(app: App, store: SqlReadModels, progress: Progress) -> float:
    """Project every child's registration (the rows the redaction must clear); seconds."""
    topic = get_topic(Child.Registered)
    last = app.recorder.max_notification_id() or 0
    mapper = cme_mapper(app.data_keys)
    task = progress.add_task("read models: projecting registrations", total=None)
    watch = Stopwatch()
    position = 0
    while page := app.recorder.select_notifications(
        start=position, limit=BATCH, topics=[topic], inclusive_of_start=False
    ):
        store.apply(project_stored(mapper, page), CONSUMER, 0, page[-1].id)
        position = page[-1].id
        progress.advance(task, len(page))
    # The events skipped here (school moves, addresses, disclosures) change no child row
    # the redaction touches; the feed resumes after the whole store.
    store.apply([], CONSUMER, 0, last)
    progress.remove_task(task)
    return watch.seconds()


def _sar_latencies(
    app: App, children: list[UUID], samples: int, seed: int, progress: Progress
) -> tuple[list[float], list[float]]:
    """Milliseconds per access package, and per library read of the child's own events."""
    rng = random.Random(seed)
    chosen = rng.sample(children, min(samples, len(children)))
    task = progress.add_task("subject access packages", total=len(chosen) * 2)
    sar, own = [], []
    for child_id in chosen:
        app.data_keys._cache.clear()  # each request from cold, like a new CLI process
        watch = Stopwatch()
        package = access_package(app, child_id, actor="bench:dpo")
        sar.append(watch.seconds() * 1000)
        if len(package["recipients"]) < 1:
            msg = f"the access package for {child_id} lists no recipients: the store is wrong"
            raise RuntimeError(msg)
        progress.advance(task)
        watch = Stopwatch()
        list(app.recorder.select_events(child_id))
        own.append(watch.seconds() * 1000)
        progress.advance(task)
    progress.remove_task(task)
    return sar, own


def _raw_key_destruction_seconds(url: str, count: int) -> float:
    """Delete ``count`` copied key rows and write their tombstones, a thousand a transaction."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE public.raw_keys AS SELECT child_id, kek_id, wrapped_key, expires_on "
            "FROM keystore.data_keys"
        )
        conn.execute("ALTER TABLE public.raw_keys ADD PRIMARY KEY (child_id)")
        conn.execute(
            "CREATE TABLE public.raw_tombstones (child_id uuid PRIMARY KEY, "
            "destroyed_at timestamptz, reason text)"
        )
        ids = [
            r[0] for r in conn.execute("SELECT child_id FROM public.raw_keys LIMIT %s", (count,))
        ]
        conn.commit()
        watch = Stopwatch()
        for start in range(0, len(ids), BATCH):
            with conn.transaction():
                conn.execute(
                    "WITH gone AS (DELETE FROM public.raw_keys WHERE child_id = ANY(%s) "
                    "RETURNING child_id) INSERT INTO public.raw_tombstones "
                    "SELECT child_id, now(), 'retention_reached' FROM gone",
                    (ids[start : start + BATCH],),
                )
        return watch.seconds()


def _check_everyone_shredded(settings: Settings, children: int) -> None:
    with psycopg.connect(settings.require_database_url()) as conn:
        live = conn.execute("SELECT count(*) FROM keystore.data_keys").fetchone()
        redacted = conn.execute(
            "SELECT count(*) FROM caseworker.children WHERE shredded_on IS NOT NULL "
            "AND legal_surname IS NULL"
        ).fetchone()
        index = conn.execute("SELECT count(*) FROM matching.blind_index").fetchone()
    if not live or not redacted or not index:
        msg = "could not count the shredding's results"
        raise RuntimeError(msg)
    if live[0] or index[0] or redacted[0] != children:
        msg = (
            f"shredding incomplete: {live[0]} live keys, {index[0]} blind-index rows, "
            f"{redacted[0]} of {children} children redacted"
        )
        raise RuntimeError(msg)


def _percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def run(events: int, samples: int, seed: int) -> None:
    from devtools.bench.environment import bench_settings  # noqa: PLC0415

    settings = bench_settings()
    app = build_application(settings)
    store, close_store = read_models(settings)
    child_events, disclosures = 8, 2
    try:
        with Progress(refresh_per_second=2) as progress:
            built = build_store(
                settings,
                app,
                -(-events // (child_events + disclosures)),
                child_events,
                disclosures,
                seed,
                progress,
                blind_index=True,
            )
            seeding = _seed_read_models(app, store, progress)
            sar, own = _sar_latencies(app, built.children, samples, seed, progress)
            raw_seconds = _raw_key_destruction_seconds(
                settings.require_database_url(), len(built.children)
            )
            job = build_retention_job(settings, app)
            task = progress.add_task("retention job: everyone has turned 25", total=None)
            watch = Stopwatch()
            report = job.run(EVERYONE_IS_25)
            job_seconds = watch.seconds()
            progress.update(task, description="read models: taking the redactions in")
            watch = Stopwatch()
            redactions = catch_up(app, store, batch=BATCH)
            projection_seconds = watch.seconds()
            progress.remove_task(task)
    finally:
        close_store()
        app.close()
    shredded = len(report.shredded)
    _check_everyone_shredded(settings, shredded)
    cascade = job_seconds + projection_seconds
    figures = [
        Figure(
            "retention job (keys, index, events)",
            shredded / job_seconds,
            "children/s",
            "raw key delete + tombstone",
            shredded / raw_seconds,
        ),
        Figure("read models redacted", redactions / projection_seconds, "events/s"),
        Figure("whole cascade", cascade, "s", "target for 100,000 children", 60.0),
        Figure(
            "SAR package p50",
            statistics.median(sar),
            "ms",
            "library read of the child",
            statistics.median(own),
        ),
        Figure(
            "SAR package p95",
            _percentile(sar, 0.95),
            "ms",
            "library read of the child",
            _percentile(own, 0.95),
        ),
        Figure("store build (mapper + COPY)", built.events / built.seconds, "events/s"),
        Figure("read-model seeding (registrations)", len(built.children) / seeding, "events/s"),
    ]
    publish(
        "shred",
        {
            "events": built.events,
            "children": len(built.children),
            "shredded": shredded,
            "sar_samples": len(sar),
            "batch": BATCH,
            "seed": seed,
        },
        figures,
    )
