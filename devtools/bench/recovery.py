"""Recovery benchmark: how long intake stands still after a SIGKILL and an immediate restart.

A member killed without leaving its consumer group keeps its partitions
until its session times out; the restarted process waits for that before it
is given them back. Each variant kills a running intake worker, starts it
again at once, and times how long a message published at the kill takes to
be applied. The reference in the same run is kafka-python's default 45 s
session; the figures are the project's default (10 s session, capped
reconnect backoff) and static membership (CME_KAFKA_INSTANCE_ID).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from rich.console import Console

from cme.bootstrap import build_application
from cme.secrets import intake_public_key
from cme.settings import PROJECT_ROOT, Settings
from consumers import kafka_io
from consumers.config import KafkaRole
from consumers.envelopes import seal_line
from devtools.bench.environment import bench_settings
from devtools.bench.report import Figure, Stopwatch, publish
from devtools.senders import registered_in
from devtools.services.isolation import isolated_topics
from devtools.synthetic import SyntheticCounty, SyntheticTraffic

VARIANTS = {
    "kafka-python default (45 s session)": {"CME_KAFKA_SESSION_TIMEOUT_MS": "45000"},
    "project default (10 s session)": {},
    "static membership (CME_KAFKA_INSTANCE_ID)": {"CME_KAFKA_INSTANCE_ID": "bench-intake-1"},
}
console = Console()


def _environment(settings: Settings, group: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "CME_MODE": "services",
        "CME_DATABASE_URL": settings.require_database_url(),
        "CME_KAFKA_BOOTSTRAP_SERVERS": settings.require_kafka(),
        "CME_TOPIC_UPSTREAM": settings.topic_upstream,
        "CME_TOPIC_QUARANTINE": settings.topic_quarantine,
        "CME_TOPIC_EVENTS": settings.topic_events,
        "CME_KAFKA_PARTITIONS": str(settings.kafka_partitions),
        "CME_KAFKA_GROUP_PREFIX": group,
        **extra,
    }


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cme.cli", "run", "intake"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


class Probe:
    """Referrals published one per partition's worth of keys, and a check that all applied."""

    def __init__(self, settings: Settings, seed: int) -> None:
        self.settings = settings
        self.traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
        self.kid, self.public_key = intake_public_key(settings)
        self.app = build_application(settings)
        self.senders = registered_in(self.app)

    def send(self, count: int) -> list[str]:
        producer = kafka_io.producer(self.settings, KafkaRole.SENDER)
        refs = []
        try:
            for _ in range(count):
                line = self.traffic.referral(self.traffic.new_child())
                envelope, raw = seal_line(line, self.kid, self.public_key, self.senders)
                producer.send(
                    self.settings.topic_upstream, key=envelope.subject_ref.encode(), value=raw
                )
                refs.append(f"{line['sender']}|{line['subject_ref']}")
            producer.flush()
        finally:
            producer.close()
        return refs

    def applied(self, refs: list[str], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.app.find_child_by_sender_ref(r) for r in refs):
                return
            time.sleep(0.1)
        msg = f"probe messages not applied within {timeout:.0f}s"
        raise TimeoutError(msg)

    def close(self) -> None:
        self.app.close()


def _measure(settings: Settings, extra: dict[str, str], rounds: int, log: Path) -> list[float]:
    env = _environment(settings, f"bench-recovery-{uuid.uuid4().hex[:8]}", extra)
    probe = Probe(settings, seed=uuid.uuid4().int % 2**32)
    process = _start(env, log)
    try:
        probe.applied(probe.send(settings.kafka_partitions * 2))  # assigned and running
        seconds = []
        for _ in range(rounds):
            process.send_signal(signal.SIGKILL)
            process.wait()
            watch = Stopwatch()
            process = _start(env, log)
            probe.applied(probe.send(settings.kafka_partitions * 2))
            seconds.append(watch.seconds())
        return seconds
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        probe.close()


def run(rounds: int, partitions: int) -> None:
    settings = isolated_topics(bench_settings(), "bench", partitions)
    log = PROJECT_ROOT / "bench-results" / f"recovery-workers-{uuid.uuid4().hex[:6]}.log"
    log.parent.mkdir(exist_ok=True)
    medians: dict[str, float] = {}
    for name, extra in VARIANTS.items():
        with console.status(f"{name}: {rounds} kill-and-restart rounds"):
            seconds = _measure(settings, extra, rounds, log)
        medians[name] = statistics.median(seconds)
        console.print(f"{name}: {', '.join(f'{s:.1f}' for s in seconds)} s")
    reference = next(iter(VARIANTS))
    figures = [
        Figure(
            f"intake applying again after SIGKILL, {name}",
            medians[name],
            "s",
            f"intake after SIGKILL, {reference}",
            medians[reference],
        )
        for name in VARIANTS
    ]
    publish("recovery", {"rounds": rounds, "partitions": partitions}, figures)
    print(f"worker logs: {log.relative_to(PROJECT_ROOT)}")
