"""Intake scale-out: the same sealed messages through 1, then 2, `cme run intake` processes.

The upstream topic's partitions are the unit of scale: a council that
outgrows one process runs more in the same consumer group. Each count runs
as separate processes (not threads: one interpreter runs Python on one core
at a time) against its own fresh database and topics, holding the same
backlog; the clock runs from the first partition assigned to the last
partition's position stored with its effects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cme.bootstrap import build_application
from cme.settings import PROJECT_ROOT, Settings
from consumers import kafka_io
from consumers.config import KafkaRole
from devtools.senders import public_key_b64, registered_in
from devtools.services.isolation import drop_database, fresh_database, isolated_topics

JOIN_SECONDS = 60
DONE_SECONDS = 600


def rate_with(
    settings: Settings,
    processes: int,
    records: Sequence[tuple[bytes, bytes]],
    partitions: int,
    senders: Mapping[str, X25519PrivateKey],
) -> tuple[float, float]:
    """Messages/s through ``processes`` intake processes, and the machine's CPU share in use.

    Each count gets a fresh store and topics; the CPU share counts every
    process, the services included, so it says how much room the second had.
    The senders who sealed ``records`` are registered in the fresh store too:
    otherwise every message would be quarantined, and the work not the same.
    """
    name = f"cme_bench_scale_{processes}"
    configured = isolated_topics(fresh_database(settings, name), f"scale{processes}", partitions)
    app = build_application(configured)
    try:
        register = registered_in(app).register
        for sender, private in senders.items():
            register(sender, public_key_b64(private))
    finally:
        app.close()
    producer = kafka_io.producer(configured, KafkaRole.SENDER, linger_ms=20, batch_size=256 * 1024)
    for subject, value in records:  # a backlog, as in the one-process figure
        producer.send(configured.topic_upstream, key=subject, value=value)
    producer.flush()
    producer.close()
    workers = [worker_process(configured, "intake") for _ in range(processes)]
    assigned = assignments(workers)
    try:
        # The clock starts at the first assignment: a second process's joining
        # (a rebalance) is part of what scaling out costs.
        wait_until(lambda: sum(assigned) > 0, JOIN_SECONDS, "an intake process to join")
        started, cpu = time.perf_counter(), _cpu_times()
        url = configured.require_database_url()
        wait_until(
            lambda: _stored(url) >= len(records), DONE_SECONDS, "intake to take every message"
        )
        seconds = time.perf_counter() - started
        busy, total = (after - before for after, before in zip(_cpu_times(), cpu, strict=True))
        return len(records) / seconds, busy / total if total else float("nan")
    finally:
        stop_processes(workers)
        drop_database(settings.require_database_url(), name)


def worker_process(settings: Settings, worker: str) -> subprocess.Popen[str]:
    """`cme run WORKER` as its own process, on the store and topics ``settings`` name."""
    env = {
        **os.environ,
        "CME_MODE": "services",
        "CME_DATABASE_URL": settings.require_database_url(),
        "CME_TOPIC_UPSTREAM": settings.topic_upstream,
        "CME_TOPIC_QUARANTINE": settings.topic_quarantine,
        "CME_TOPIC_EVENTS": settings.topic_events,
        "CME_KAFKA_GROUP_PREFIX": settings.kafka_group_prefix,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cme.cli", "run", worker],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_processes(workers: Sequence[subprocess.Popen[str]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def assignments(workers: list[subprocess.Popen[str]]) -> list[int]:
    """Each process's current partition count, kept up to date from its log."""
    counts = [0] * len(workers)

    def follow(index: int, worker: subprocess.Popen[str]) -> None:
        for line in worker.stderr or ():
            if "partitions assigned:" in line:
                inside = line.rsplit("[", 1)[1].split("]", 1)[0]
                counts[index] = len([p for p in inside.split(",") if p.strip()])
            elif "partitions revoked:" in line:
                counts[index] = 0

    for index, worker in enumerate(workers):
        threading.Thread(target=follow, args=(index, worker), daemon=True).start()
    return counts


def _cpu_times() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (Linux /proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def _stored(url: str) -> int:
    """Messages whose effects are stored: each partition's tracked offset + 1, summed."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(notification_id + 1), 0) FROM eventstore.cme_tracking "
            "WHERE application_name LIKE 'intake:%'"
        ).fetchone()
    return int(row[0]) if row else 0


def wait_until(done: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            msg = f"timed out after {seconds:.0f} s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(0.2)
