"""Real worker subprocesses for the crash and end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from cme.settings import PROJECT_ROOT, Settings
from devtools.senders import AutoRegisteringSenders, registered_in
from devtools.services.isolation import isolated_topics
from tests import cli


@dataclass
class WorkerEnvironment:
    """Topics and consumer groups of one test, so tests never see each other's traffic."""

    settings: Settings
    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _senders: AutoRegisteringSenders | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def senders(self) -> AutoRegisteringSenders:
        """Each sender's key, registered in this test's store the first time it sends."""
        if self._senders is None:
            from cme.bootstrap import build_application

            app = build_application(self.settings)
            self._closers.append(app.close)
            self._senders = registered_in(app)
        return self._senders

    def start(
        self,
        *workers: str,
        fault: str | None = None,
        marker: Path | None = None,
        raise_at: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """``cme run WORKERS``; paused at ``fault`` (for a SIGKILL), or raising at ``raise_at``."""
        env = dict(self.env)
        if fault:
            env["CME_FAULT_PAUSE"] = fault
            env["CME_FAULT_MARKER"] = str(marker)
        if raise_at:
            env["CME_FAULT_RAISE"] = raise_at
        with (self.log_dir / f"worker-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cme.cli", "run", *workers],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def command(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``cme ARGS`` as an operator runs it against this test's topics and store."""
        return cli.run_cme(list(args), self.log_dir, timeout=120, env={**self.env, **env})

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30) -> int:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        for close in self._closers:
            close()

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker-*.log"))
        )


def worker_environment(
    settings: Settings, tmp_path: Path, partitions: int = 3
) -> WorkerEnvironment:
    """Fresh topics and consumer groups for one test, under the run's own topic prefix."""
    run_prefix = settings.topic_upstream.rsplit(".", 1)[0]
    configured = isolated_topics(settings, run_prefix, partitions)
    env = {
        **os.environ,
        "CME_TOPIC_UPSTREAM": configured.topic_upstream,
        "CME_TOPIC_QUARANTINE": configured.topic_quarantine,
        "CME_TOPIC_EVENTS": configured.topic_events,
        "CME_KAFKA_PARTITIONS": str(partitions),
        "CME_KAFKA_GROUP_PREFIX": configured.kafka_group_prefix,
        "CME_MODE": "services",
        "CME_DATABASE_URL": settings.require_database_url(),
        "CME_KAFKA_BOOTSTRAP_SERVERS": settings.require_kafka(),
        "CME_DATA_DIR": str(settings.data_dir),
    }
    return WorkerEnvironment(configured, env, tmp_path)


def destroy_key(settings: Settings, child_id: UUID, reason: str) -> None:
    """Destroy a child's key as the retention job does: the only role allowed to."""
    from cme.bootstrap import backend_for, data_keys

    store, close = backend_for(settings).key_store("retention")
    try:
        data_keys(settings, store).destroy(child_id, reason=reason)
    finally:
        close()


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str] = lambda: ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs()}")
