"""Audit benchmark: ledger verification and a full decrypting replay of a large store.

A store of at least a million sealed events (children with their events and
disclosures to other agencies) is built first; the ledger writer then chains
every sharing-related entry. Each rate is shown beside a reference read in the
same run from the same table: the raw sequential read of the event store (and
the library's own notification read) for the replay, the raw read of the
ledger table for ``cme audit verify``.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from rich.progress import Progress

from cme.audit import verify_ledger
from cme.audit_proof import build_proof
from cme.bootstrap import App, build_application, open_pool
from cme.db.roles import Role, role_url
from cme.secrets import load_ledger_signer
from cme.settings import Settings
from consumers.ledger import LedgerWriter
from consumers.projection_feed import replay
from crypto_shredding.mapper import cme_mapper
from crypto_shredding.signing import CheckpointSigner, CheckpointVerifier
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.bench.store import build_store

PAGE = 10_000


def _raw_read(url: str, query: str, progress: Progress, label: str, total: int) -> float:
    """Rows per second of a plain server-side-cursor scan: the physical ceiling."""
    task = progress.add_task(label, total=total)
    rows = 0
    watch = Stopwatch()
    with psycopg.connect(url) as conn, conn.cursor(name="bench_scan") as cur:
        cur.itersize = PAGE
        cur.execute(query)
        while batch := cur.fetchmany(PAGE):
            rows += len(batch)
            progress.advance(task, len(batch))
    seconds = watch.seconds()
    progress.remove_task(task)
    return rows / seconds


def _timed(
    work: Callable[[Callable[[int], None]], int], progress: Progress, label: str, total: int
) -> tuple[int, float]:
    task = progress.add_task(label, total=total)
    watch = Stopwatch()
    count = work(lambda n: progress.advance(task, n))
    seconds = watch.seconds()
    progress.remove_task(task)
    return count, seconds


def _chain_ledger(
    settings: Settings, signer: CheckpointSigner, progress: Progress
) -> tuple[int, float]:
    """Entries appended and seconds taken by the ledger writer over the whole store."""
    pool = open_pool(role_url(settings, Role.LEDGER), "bench-ledger")
    try:
        writer = LedgerWriter(pool, signer, checkpoint_every=10_000)
        appended, seconds = _timed(
            lambda _: writer.catch_up(batch=PAGE), progress, "ledger writer", 0
        )
        writer.checkpoint()
    finally:
        pool.close()
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE eventstore.cme_events")
        conn.execute("VACUUM ANALYZE ledger.entries")
        conn.execute("CHECKPOINT")
    return appended, seconds


def _replay_all(app: App) -> Callable[[Callable[[int], None]], int]:
    def work(advance: Callable[[int], None]) -> int:
        app.data_keys._cache.clear()  # a cold start, as a fresh auditor process
        count = 0
        for page in replay(app.queries, cme_mapper(app.data_keys), PAGE):
            count += len(page)
            advance(len(page))
        return count

    return work


def _library_read(app: App) -> Callable[[Callable[[int], None]], int]:
    def work(advance: Callable[[int], None]) -> int:
        count, position = 0, 0
        while page := app.recorder.select_notifications(
            start=position, limit=PAGE, inclusive_of_start=False
        ):
            count += len(page)
            position = page[-1].id
            advance(len(page))
        return count

    return work


def _verify(
    url: str, verifier: CheckpointVerifier, deep: bool = False
) -> Callable[[Callable[[int], None]], int]:
    def work(advance: Callable[[int], None]) -> int:
        seen = [0]

        def step(total: int) -> None:
            advance(total - seen[0])
            seen[0] = total

        result = verify_ledger(url, verifier, progress=step, deep=deep)
        if not result.ok:
            msg = f"the benchmark's own ledger does not verify: {result.problems[0]}"
            raise RuntimeError(msg)
        return result.entries

    return work


def _rounds(
    app: App,
    auditor: str,
    verifier: CheckpointVerifier,
    events: int,
    entries: int,
    rounds: int,
    progress: Progress,
) -> dict[str, float]:
    """Best rate of each reading over interleaved rounds (the neighbours are noisy)."""
    best: dict[str, float] = {}

    def keep(name: str, rate: float) -> None:
        best[name] = max(best.get(name, 0.0), rate)

    for n in range(1, rounds + 1):
        label = f"{n}/{rounds}"
        keep("raw events", _raw_read(auditor, RAW_EVENTS, progress, f"raw scan {label}", events))
        count, seconds = _timed(_library_read(app), progress, f"library read {label}", events)
        keep("library read", count / seconds)
        count, seconds = _timed(_replay_all(app), progress, f"decrypting replay {label}", events)
        keep("replay", count / seconds)
        keep("raw ledger", _raw_read(auditor, RAW_LEDGER, progress, f"raw ledger {label}", entries))
        count, seconds = _timed(_verify(auditor, verifier), progress, f"verify {label}", entries)
        keep("verify", count / seconds)
        deep = _verify(auditor, verifier, deep=True)
        count, seconds = _timed(deep, progress, f"verify --deep {label}", entries)
        keep("verify deep", count / seconds)
        count, seconds = _timed(
            _prove(auditor, verifier, entries), progress, f"prove {label}", entries
        )
        keep("prove", count / seconds)
    return best


def _prove(
    url: str, verifier: CheckpointVerifier, entries: int
) -> Callable[[Callable[[int], None]], int]:
    """One entry's inclusion proof: every leaf up to the signed head is hashed for it."""

    def work(advance: Callable[[int], None]) -> int:
        proof = build_proof(url, max(1, entries // 2), verifier)
        advance(proof.tree_size)
        return proof.tree_size

    return work


RAW_EVENTS = (
    "SELECT notification_id, originator_id, originator_version, topic, state "
    "FROM eventstore.cme_events ORDER BY notification_id"
)
RAW_LEDGER = "SELECT seq, entry, prev_hash, entry_hash FROM ledger.entries ORDER BY seq"


def run(events: int, seed: int, rounds: int) -> None:
    from devtools.bench.environment import bench_settings  # noqa: PLC0415

    settings = bench_settings()
    app = build_application(settings)
    child_events, disclosures = 8, 2
    children = -(-events // (child_events + disclosures))
    signer = load_ledger_signer(settings)
    try:
        with Progress(refresh_per_second=2) as progress:
            built = build_store(settings, app, children, child_events, disclosures, seed, progress)
            appended, ledger_seconds = _chain_ledger(settings, signer, progress)
            best = _rounds(
                app,
                role_url(settings, Role.AUDITOR),
                signer.verifier(),
                built.events,
                appended,
                rounds,
                progress,
            )
    finally:
        app.close()
    figures = [
        Figure(
            "full replay, decrypting",
            best["replay"],
            "events/s",
            "raw sequential read, same table",
            best["raw events"],
        ),
        Figure(
            "full replay, decrypting",
            best["replay"],
            "events/s",
            "library notification read (no mapping)",
            best["library read"],
        ),
        Figure(
            "cme audit verify",
            best["verify"],
            "entries/s",
            "raw sequential read of ledger.entries",
            best["raw ledger"],
        ),
        Figure(
            "cme audit verify --deep (every entry from its event)",
            best["verify deep"],
            "entries/s",
            "raw sequential read of ledger.entries",
            best["raw ledger"],
        ),
        Figure(
            "cme audit prove (one entry, the whole tree hashed)",
            best["prove"],
            "entries/s",
            "raw sequential read of ledger.entries",
            best["raw ledger"],
        ),
        Figure(
            "ledger writer (chaining the store)",
            built.events / ledger_seconds,
            "events/s",
            "raw sequential read, same table",
            best["raw events"],
        ),
        Figure("store build (mapper + COPY)", built.events / built.seconds, "events/s"),
    ]
    publish(
        "audit",
        {
            "events": built.events,
            "children": len(built.children),
            "ledger_entries": appended,
            "page": PAGE,
            "rounds": rounds,
            "seed": seed,
        },
        figures,
    )
