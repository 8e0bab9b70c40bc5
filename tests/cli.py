"""The `cme` command run as a person runs it: its own process, a clean CME_* environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cme.settings import PROJECT_ROOT


def cme_env(data_dir: Path, mode: str = "embedded", **settings: str) -> dict[str, str]:
    """This process's environment without its CME_* settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CME_")}
    return env | {"CME_MODE": mode, "CME_DATA_DIR": str(data_dir)} | settings


def run_cme(
    args: list[str], data_dir: Path, mode: str = "embedded", timeout: float = 60, **options: Any
) -> subprocess.CompletedProcess[str]:
    """``python -m cme.cli ARGS``; ``options`` are subprocess.run's (stdout=..., env=...)."""
    options.setdefault("env", cme_env(data_dir, mode))
    if "stdout" not in options:
        options["capture_output"] = True
    else:
        options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "cme.cli", *args],
        cwd=PROJECT_ROOT,
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )
