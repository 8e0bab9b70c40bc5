"""A command whose service is down says so in one line, in seconds, with what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cme.settings import PROJECT_ROOT


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_publish_with_the_broker_down_fails_fast_with_one_line(tmp_path: Path) -> None:
    lines = (PROJECT_ROOT / "examples" / "upstream" / "all-types.jsonl").read_text()
    file = tmp_path / "messages.jsonl"
    file.write_text(lines.splitlines()[0] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    env |= {
        "CME_MODE": "embedded",
        "CME_DATA_DIR": str(tmp_path),
        "CME_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cme.cli", "publish", str(file)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("cannot reach Kafka at 127.0.0.1:"), errors[0]
    assert "scripts/services up" in errors[0]
    assert "Traceback" not in result.stderr
