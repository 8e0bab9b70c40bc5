"""Pipeline benchmark: upstream to caseworker row, through Kafka, the event store and back.

Stage throughputs (relay, projector) are measured on a backlog, each stage
alone; end-to-end latency (publish → the child's row visible to a caseworker)
is measured at a fixed offered rate, with intake, relay and projector each
its own `cme run` process. Beside them, measured in the same run:
the raw kafka-python produce→consume latency at the same rate.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid

import psycopg
from kafka import KafkaConsumer, KafkaProducer
from rich.progress import Progress

from cme.bootstrap import build_application
from cme.db.roles import Role, role_url
from cme.runtime import start_workers
from cme.secrets import intake_public_key
from cme.settings import Settings
from cme.topics import ensure_topics
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.envelopes import seal_line
from devtools.bench.environment import bench_settings
from devtools.bench.references import raw_consume_seconds
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.bench.scale_out import assignments, stop_processes, wait_until, worker_process
from devtools.senders import senders_of
from devtools.services.isolation import isolated_topics
from devtools.synthetic import SyntheticCounty, SyntheticTraffic

POLL_SECONDS = 0.1


def _letters(n: int) -> str:
    word = ""
    for _ in range(6):
        n, digit = divmod(n, 26)
        word += chr(ord("a") + digit)
    return word


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _topics(settings: Settings, partitions: int) -> Settings:
    """The project's topics, fresh, and one more for the raw Kafka reference."""
    configured = isolated_topics(settings, "bench", partitions)
    ensure_topics(settings, {_raw_topic(configured): partitions})
    return configured


def _raw_topic(settings: Settings) -> str:
    return settings.topic_events.removesuffix(".events") + ".raw"


def _sealed(settings: Settings, lines: list[dict[str, object]]) -> list[tuple[bytes, bytes]]:
    kid, public_key = intake_public_key(settings)
    out = []
    with senders_of(settings) as senders:
        for line in lines:
            envelope, raw = seal_line(line, kid, public_key, senders)
            out.append((envelope.subject_ref.encode(), raw))
    return out


def _stage_throughputs(
    settings: Settings, backlog: int, seed: int, progress: Progress
) -> tuple[float, float, float, int]:
    """Relay and projector events/s, each alone on a full backlog, and a bare consumer's.

    The bare consumer reads the same events topic: the projector's reference.
    """
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
    sealed = _sealed(settings, traffic.mixed(backlog))
    producer = kafka_io.producer(settings, KafkaRole.SENDER)
    for key, raw in sealed:
        producer.send(settings.topic_upstream, key=key, value=raw)
    producer.flush()
    producer.close()
    app = build_application(settings)
    start_events = app.recorder.max_notification_id() or 0
    task = progress.add_task("intake of the backlog (untimed here)", total=backlog)
    stop = threading.Event()
    running = start_workers(settings, ["intake"], stop)
    intake = running.counters["intake"]
    wait_until(lambda: _done(intake(), progress, task) >= backlog, 900, "intake of the backlog")
    stop.set()
    running.join(stop, report_every=0.1)
    events = (app.recorder.max_notification_id() or 0) - start_events

    def timed_stage(worker: str, counter_key: str) -> float:
        stop = threading.Event()
        task = progress.add_task(f"{worker} on a backlog of {events} events", total=events)
        watch = Stopwatch()
        running = start_workers(settings, [worker], stop)
        counter = running.counters[worker]
        wait_until(lambda: _count(counter(), counter_key, progress, task) >= events, 900, worker)
        seconds = watch.seconds()
        stop.set()
        running.join(stop, report_every=0.1)
        return events / seconds

    relay_rate = timed_stage("relay", "published")
    projector_rate = timed_stage("projector", "read")
    raw_rate = events / raw_consume_seconds(settings, settings.topic_events, events)
    app.close()
    return relay_rate, projector_rate, raw_rate, events


def _done(counts: dict[str, int], progress: Progress, task: object) -> int:
    total = counts["applied"] + counts["duplicates"] + counts["quarantined"]
    progress.update(task, completed=total)  # type: ignore[arg-type]
    return total


def _count(counts: dict[str, int], key: str, progress: Progress, task: object) -> int:
    progress.update(task, completed=counts[key])  # type: ignore[arg-type]
    return counts[key]


def _end_to_end(
    settings: Settings, rate: float, seconds: float, seed: int, progress: Progress
) -> list[float]:
    """Latencies (s) from publish to the child's row being visible to a caseworker."""
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed + 1))
    count = int(rate * seconds)
    lines = []
    for n in range(count):
        line = traffic.referral(traffic.new_child())
        # Letters only: the matcher ignores digits in names, as people's names have none.
        line["payload"]["child"]["legal_surname"] = "Benchling" + _letters(n)
        lines.append(line)
    sealed = _sealed(settings, lines)
    surnames = [str(line["payload"]["child"]["legal_surname"]) for line in lines]
    stop = threading.Event()
    # One process per worker, as a council runs them when one process is not
    # enough: threads of one process share one core (the interpreter's lock).
    processes = [worker_process(settings, w) for w in ("intake", "relay", "projector")]
    assigned = assignments(processes)
    wait_until(lambda: assigned[0] > 0 and assigned[2] > 0, 60, "intake and projector to join")
    time.sleep(1)  # the relay's first poll
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    task = progress.add_task(f"offering {rate:.0f} msg/s for {seconds:.0f}s", total=count)

    def watch_rows() -> None:
        with psycopg.connect(role_url(settings, Role.CASEWORKER), autocommit=True) as conn:
            while len(seen) < count and not stop.is_set():
                pending = [s for s in list(sent) if s not in seen]
                if pending:
                    rows = conn.execute(
                        "SELECT legal_surname FROM caseworker.children "
                        "WHERE legal_surname = ANY(%s)",
                        (pending,),
                    ).fetchall()
                    now = time.monotonic()
                    for (surname,) in rows:
                        seen.setdefault(surname, now)
                # The lookup scans the children table: polling faster would load
                # the database we are measuring. Resolution: this interval.
                time.sleep(POLL_SECONDS)

    watcher = threading.Thread(target=watch_rows)
    watcher.start()
    producer = kafka_io.producer(settings, KafkaRole.SENDER, linger_ms=0)
    started = time.monotonic()
    for n, (key, raw) in enumerate(sealed):
        due = started + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.send(settings.topic_upstream, key=key, value=raw)
        sent[surnames[n]] = time.monotonic()
        progress.update(task, completed=n + 1)
    producer.flush()
    watcher.join(timeout=600)
    stop.set()
    stop_processes(processes)
    producer.close()
    return [seen[s] - sent[s] for s in surnames if s in seen]


def _raw_kafka_latency(settings: Settings, rate: float, seconds: float) -> list[float]:
    topic = _raw_topic(settings)
    count = int(rate * seconds)
    received: list[float] = []
    # The reference clients act as the admin: the raw topic and its group have no ACLs.
    consumer = KafkaConsumer(
        topic,
        **kafka_io.connection(settings, KafkaRole.ADMIN),
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    consumer.poll(timeout_ms=2000)
    while not consumer.assignment():
        consumer.poll(timeout_ms=500)
    done = threading.Event()

    def consume() -> None:
        while len(received) < count and not done.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                now = time.monotonic()
                received.extend(now - json.loads(r.value)["t"] for r in records)

    thread = threading.Thread(target=consume)
    thread.start()
    producer = KafkaProducer(
        **kafka_io.connection(settings, KafkaRole.ADMIN), acks="all", linger_ms=0
    )
    started = time.monotonic()
    for n in range(count):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.send(
            topic, key=str(n % 97).encode(), value=json.dumps({"t": time.monotonic()}).encode()
        )
    producer.flush()
    thread.join(timeout=120)
    done.set()
    producer.close()
    consumer.close()
    return received


def run(backlog: int, rate: float, seconds: float, seed: int, partitions: int) -> None:
    settings = _topics(bench_settings(), partitions)
    with Progress() as progress:
        relay_rate, projector_rate, raw_rate, events = _stage_throughputs(
            settings, backlog, seed, progress
        )
        raw = _raw_kafka_latency(settings, rate, seconds)
        latencies = _end_to_end(settings, rate, seconds, seed, progress)
    figures = [
        Figure("relay (store → events topic)", relay_rate, "events/s"),
        Figure(
            "projector (events topic → read models)",
            projector_rate,
            "events/s",
            "raw Kafka consume of the same events topic",
            raw_rate,
        ),
    ]
    for pct in (50, 95, 99):
        figures.append(
            Figure(
                f"end-to-end latency p{pct} at {rate:.0f} msg/s",
                _percentile(latencies, pct) * 1000 if latencies else float("nan"),
                "ms",
                "raw Kafka produce→consume",
                _percentile(raw, pct) * 1000 if raw else None,
            )
        )
    figures.append(
        Figure("messages visible to caseworkers", len(latencies), "msgs", "offered", rate * seconds)
    )
    publish(
        "pipeline",
        {
            "backlog_messages": backlog,
            "backlog_events": events,
            "rate": rate,
            "seconds": seconds,
            "partitions": partitions,
            "mean_latency_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        },
        figures,
    )
