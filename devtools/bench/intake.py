"""Intake benchmark: sustained upstream messages/s into the event store, exactly once.

In the same run, on the same machine: the raw kafka-python consume rate of
the same topic (no processing), and the raw PostgreSQL insert rate of as many
small rows, 100 per transaction. The intake figure is read against both.
Then the same sealed messages go through 1 and 2 `cme run intake`
processes in one consumer group (:mod:`devtools.bench.scale_out`).
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import psycopg
from rich.progress import Progress

from cme.intake_runtime import build_intake_worker
from cme.secrets import intake_public_key
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.envelopes import seal_line
from devtools.bench import scale_out
from devtools.bench.environment import bench_settings
from devtools.bench.references import raw_consume_seconds
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.senders import senders_of
from devtools.services.isolation import isolated_topics
from devtools.synthetic import SyntheticCounty, SyntheticTraffic


def _raw_insert_seconds(url: str, count: int) -> float:
    rows = [(uuid.uuid4(), 1, "bench", b"x" * 400) for _ in range(count)]
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS public.raw_intake (id uuid PRIMARY KEY, v int, "
            "topic text, state bytea)"
        )
        conn.execute("TRUNCATE public.raw_intake")
        conn.commit()
        watch = Stopwatch()
        for start in range(0, count, 100):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO public.raw_intake VALUES (%s, %s, %s, %s)",
                    rows[start : start + 100],
                )
        return watch.seconds()


def run(messages: int, seed: int, partitions: int) -> None:
    settings = isolated_topics(bench_settings(), "bench", partitions)

    kid, public_key = intake_public_key(settings)
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
    with senders_of(settings) as senders, Progress() as progress:
        task = progress.add_task("sealing and publishing upstream messages", total=messages)
        producer = kafka_io.producer(
            settings, KafkaRole.SENDER, linger_ms=20, batch_size=256 * 1024
        )
        records: list[tuple[bytes, bytes]] = []
        for line in traffic.mixed(messages):
            envelope, raw = seal_line(line, kid, public_key, senders)
            records.append((envelope.subject_ref.encode(), raw))
            producer.send(settings.topic_upstream, key=records[-1][0], value=raw)
            progress.advance(task)
        producer.flush()
        producer.close()

        consume_seconds = raw_consume_seconds(settings, settings.topic_upstream, messages)
        insert_seconds = _raw_insert_seconds(settings.require_database_url(), messages)

        stop = threading.Event()
        worker, closers = build_intake_worker(settings, stop)
        thread = threading.Thread(target=worker.run, name="intake")
        task = progress.add_task("intake: upstream topic into the event store", total=messages)
        watch = Stopwatch()
        thread.start()
        done = 0
        while done < messages and thread.is_alive():
            time.sleep(0.2)
            done = worker.applied + worker.duplicates + worker.quarantined
            progress.update(task, completed=done)
        intake_seconds = watch.seconds()
        stop.set()
        thread.join(timeout=60)
        for closer in closers:
            closer.close()  # type: ignore[attr-defined]

        task = progress.add_task("scale-out: 1 then 2 `cme run intake` processes", total=2)
        one, one_busy = scale_out.rate_with(settings, 1, records, partitions, senders)
        progress.advance(task)
        two, two_busy = scale_out.rate_with(settings, 2, records, partitions, senders)
        progress.advance(task)

    rate = messages / intake_seconds
    figures = [
        Figure(
            "intake (sealed payloads, exactly once)",
            rate,
            "msg/s",
            "raw Kafka consume",
            messages / consume_seconds,
        ),
        Figure(
            "intake", rate, "msg/s", "raw PostgreSQL insert (100/txn)", messages / insert_seconds
        ),
        Figure(
            "intake, 2 processes (one group)",
            two,
            "msg/s",
            f"1 process, same messages ({os.cpu_count()} cores shared with the services)",
            one,
        ),
        Figure("machine CPU busy, 1 intake process", one_busy * 100, "%"),
        Figure("machine CPU busy, 2 intake processes", two_busy * 100, "%"),
        Figure("applied", worker.applied, "msgs"),
        Figure("quarantined by the domain", worker.quarantined, "msgs"),
        Figure("duplicates", worker.duplicates, "msgs"),
    ]
    publish(
        "intake",
        {
            "messages": messages,
            "partitions": partitions,
            "seed": seed,
            "batch": settings.intake_batch_size,
        },
        figures,
    )
