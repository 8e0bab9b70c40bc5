"""Domain benchmark: save and load children through the event-sourcing library.

Runs the same workload twice in one process against the real PostgreSQL — with
the personal part of each event sealed, and without — and measures a raw
psycopg insert of the same stored rows as the physical reference. A third
figure compares one seal per event with one seal per personal field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from uuid import UUID

import orjson
import psycopg
from rich.progress import Progress

from cme.bootstrap import App, build_application
from crypto_shredding.sealing import cipher, new_key, seal, unseal
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.bench.store import child_with_events
from devtools.synthetic import SyntheticCounty
from domain.child import Child
from domain.personal import ChildDetails

BATCH = 100
EARLIER_READS = 2_000


def _children(county: SyntheticCounty, count: int, events_each: int) -> list[Child]:
    """Aggregates with ``events_each`` events: registration, then a realistic mix."""
    return [child_with_events(county, events_each)[0] for _ in range(count)]


def _save(app: App, children: list[Child], progress: Progress, label: str) -> float:
    """Seconds to save every child, a hundred aggregates per transaction."""
    events = sum(len(child.pending_events) for child in children)
    task = progress.add_task(f"{label}: save", total=events)
    watch = Stopwatch()
    for start in range(0, len(children), BATCH):
        batch = children[start : start + BATCH]
        if app.mapper.seal_personal:  # type: ignore[attr-defined]
            app.data_keys.create_many((child.id, date(2040, 1, 1)) for child in batch)
        pending = sum(len(child.pending_events) for child in batch)
        app.save(*batch)
        progress.advance(task, pending)
    return watch.seconds()


def _load(app: App, ids: list[UUID], progress: Progress, label: str) -> float:
    """Seconds to load every child back from a cold key cache, keys fetched per batch."""
    app.data_keys._cache.clear()  # a cold start, as in a fresh worker
    task = progress.add_task(f"{label}: load", total=len(ids))
    watch = Stopwatch()
    for start in range(0, len(ids), BATCH):
        batch_ids = ids[start : start + BATCH]
        if app.mapper.seal_personal:  # type: ignore[attr-defined]
            app.data_keys.load(batch_ids)
        for child_id in batch_ids:
            app.repository.get(child_id)
        progress.advance(task, len(batch_ids))
    return watch.seconds()


def _settle(url: str) -> None:
    """Let PostgreSQL finish the writes' background work before loads are timed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE eventstore.cme_events")
        conn.execute("CHECKPOINT")


def _raw_insert_seconds(url: str, rows: list[tuple[UUID | str, int, str, bytes]]) -> float:
    """The same rows into a plain table, 100 per transaction: the physical ceiling."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS public.raw_events (originator_id uuid, "
            "originator_version int, topic text, state bytea, PRIMARY KEY "
            "(originator_id, originator_version))"
        )
        conn.execute("TRUNCATE public.raw_events")
        conn.commit()
        watch = Stopwatch()
        for start in range(0, len(rows), BATCH):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO public.raw_events VALUES (%s, %s, %s, %s)",
                    rows[start : start + BATCH],
                )
        return watch.seconds()


def _seal_costs(sample: list[dict[str, object]], rounds: int) -> tuple[float, float]:
    """Microseconds per event: one seal of the whole part vs one seal per field."""
    key = cipher(new_key())

    def per_event() -> None:
        for personal in sample:
            unseal(key, seal(key, orjson.dumps(personal), b"aad"), b"aad")

    def per_field() -> None:
        for personal in sample:
            for name, value in personal.items():
                aad = name.encode()
                unseal(key, seal(key, orjson.dumps(value), aad), aad)

    def timed(work: Callable[[], None]) -> float:
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        return (time.perf_counter() - started) / (rounds * len(sample)) * 1e6

    return timed(per_event), timed(per_field)


def _read_costs(app: App, county: SyntheticCounty, earlier: int, samples: int = 200) -> list[float]:
    """Milliseconds to record a read and to load the child: never read, then read ``earlier`` times.

    A read is appended without replaying the child, so recording one should
    not grow with the reads before it; loading the child (what every command
    on it does) still replays them all.
    """
    from domain.commands import RegisterChild  # noqa: PLC0415

    def child() -> UUID:
        return app.register_child(RegisterChild.of(county.register_child()))

    def per_call(work: Callable[[], None]) -> float:
        watch = Stopwatch()
        for _ in range(samples):
            work()
        return watch.seconds() / samples * 1000

    def read(child_id: UUID) -> Callable[[], None]:
        return lambda: app.record_personal_data_read(child_id, "staff:bench", "bench")

    def load(child_id: UUID) -> Callable[[], None]:
        def work() -> None:
            app.get_child(child_id)

        return work

    fresh, busy = child(), child()
    for _ in range(earlier):
        read(busy)()
    reads = [per_call(read(fresh)), per_call(read(busy))]
    loaded = [per_call(load(child())), per_call(load(busy))]
    return reads + loaded


def run(children: int, events_each: int, seed: int, rounds: int = 5) -> None:
    from devtools.bench.environment import bench_settings  # noqa: PLC0415

    settings = bench_settings()
    county = SyntheticCounty(seed=seed)
    total = children * events_each
    variants = (("sealed", True), ("plain", False))
    apps = {label: build_application(settings, seal_personal=sealed) for label, sealed in variants}
    saves: dict[str, list[float]] = {label: [] for label, _ in variants}
    loads: dict[str, list[float]] = {label: [] for label, _ in variants}
    datasets: dict[str, list[UUID]] = {}
    try:
        with Progress(transient=True, refresh_per_second=2) as progress:
            # Saves, then loads, each alternating the two variants round by round;
            # each variant keeps its best round, since on a small shared machine
            # the neighbours move single runs by more than the effect measured.
            for round_number in range(1, rounds + 1):
                for label, _ in variants:
                    workload = _children(county, children, events_each)
                    tag = f"{label} {round_number}/{rounds}"
                    saves[label].append(_save(apps[label], workload, progress, tag))
                    datasets[label] = [child.id for child in workload]
            _settle(settings.require_database_url())
            for round_number in range(1, rounds + 1):
                for label, _ in variants:
                    tag = f"{label} {round_number}/{rounds}"
                    loads[label].append(_load(apps[label], datasets[label], progress, tag))
            sealed_sample = list(apps["sealed"].recorder.select_events(datasets["sealed"][0]))
            progress.add_task(f"reads recorded after {EARLIER_READS:,} reads", total=None)
            read_fresh, read_busy, load_fresh, load_busy = _read_costs(
                apps["sealed"], county, EARLIER_READS
            )
    finally:
        for app in apps.values():
            app.close()
    results = {label: (min(saves[label]), min(loads[label])) for label, _ in variants}
    with Progress(transient=True) as progress:
        progress.add_task("raw psycopg insert of the same rows", total=None)
        rows_app = build_application(settings, seal_personal=False)
        try:
            rows = [
                (r.originator_id, r.originator_version, r.topic, r.state)
                for child in _children(county, children, events_each)
                for r in (rows_app.mapper.to_stored_event(e) for e in child.pending_events)
            ]
        finally:
            rows_app.close()
        raw_seconds = _raw_insert_seconds(settings.require_database_url(), rows)
    personal_parts = [
        ChildDetails.model_validate(county.child_details()).model_dump(mode="json")
        for _ in range(200)
    ]
    per_event_us, per_field_us = _seal_costs(personal_parts, rounds=20)

    plain_save, plain_load = results["plain"]
    sealed_save, sealed_load = results["sealed"]
    plain_e2e = total / (plain_save + plain_load)
    sealed_e2e = total / (sealed_save + sealed_load)
    figures = [
        Figure("save, sealed", total / sealed_save, "events/s", "save, plain", total / plain_save),
        Figure("load, sealed", total / sealed_load, "events/s", "load, plain", total / plain_load),
        Figure("save+load, sealed", sealed_e2e, "events/s", "save+load, plain", plain_e2e),
        Figure(
            "encryption overhead of save+load",
            (1 - sealed_e2e / plain_e2e) * 100,
            "%",
        ),
        Figure(
            "save, plain (library)",
            total / plain_save,
            "events/s",
            "raw psycopg insert",
            total / raw_seconds,
        ),
        Figure(
            "seal+open, one part per event", per_event_us, "µs/event", "one per field", per_field_us
        ),
        Figure(
            f"record a read, child read {EARLIER_READS:,} times",
            read_busy,
            "ms",
            "record a read, child never read",
            read_fresh,
        ),
        Figure(
            f"load a child read {EARLIER_READS:,} times",
            load_busy,
            "ms",
            "load a child never read",
            load_fresh,
        ),
    ]
    publish(
        "domain",
        {
            "children": children,
            "events_each": events_each,
            "batch": BATCH,
            "seed": seed,
            "sample_state_bytes": sum(len(e.state) for e in sealed_sample)
            // max(1, len(sealed_sample)),
        },
        figures,
    )
