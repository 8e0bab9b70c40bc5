"""Helpers shared by the local PostgreSQL and Kafka launchers.

The build machines have no Docker engine and run as root, so the project starts
its own services from the machine's binaries; these helpers keep that honest:
wait with a deadline, name the log file when something fails, install a
missing system package only when we are allowed to.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    """What `scripts/services status` reports for one service."""

    name: str
    running: bool
    where: str
    pid: int | None
    managed: bool  # started by `scripts/services up`, so `down` may stop it
    log: Path | None
    detail: str = ""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Path | None, interval: float = 0.25
) -> None:
    """Poll ``check`` until it holds; on timeout raise naming the log to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    hint = f"; read {log}" if log else ""
    msg = f"{what} did not become ready within {timeout:.0f}s{hint}"
    raise ServiceError(msg)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs: a killed server nobody has reaped yet (a zombie) does not.

    Where the machine's first process reaps no orphans, a broker killed with
    SIGKILL stays a zombie, and its pid file then named a server that was
    "running" but answered nothing, so `up` never started it again.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"  # the state follows the (command)


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def is_root() -> bool:
    return os.geteuid() == 0


def ensure_command(command: str, debian_package: str) -> str:
    """Path of ``command``, installing its Debian package when we are root."""
    found = shutil.which(command)
    if found:
        return found
    if is_root() and shutil.which("apt-get"):
        print(f"installing {debian_package} (provides {command}) with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", debian_package],
            check=True,
            env=env,
        )
        found = shutil.which(command)
        if found:
            return found
    msg = f"{command} is not installed; install it with `apt-get install {debian_package}`"
    raise ServiceError(msg)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_group(pid_file: Path, what: str, grace: float = 60) -> bool:
    """SIGTERM the process group a pid file names, SIGKILL it after ``grace`` s; False if none.

    The services run in sessions of their own (a JVM and its children), so
    the whole group goes, and a server that hangs on shutdown is not left
    behind holding its port.
    """
    pid = read_pid(pid_file)
    if pid is None:
        return False
    print(f"stopping {what} ...", flush=True)
    _stop_pid(pid, grace)
    pid_file.unlink(missing_ok=True)
    return True


def _stop_pid(pid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` s: the whole group when ``pid`` leads one."""
    try:
        group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    kill: Callable[[int, int], None] = os.killpg if group else os.kill
    try:
        kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.25)
        if pid_alive(pid):
            kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def stop_leftovers(home: Path, what: str, grace: float = 30, program: str = "java") -> list[int]:
    """Stop servers still running from ``home`` that no pid file of this checkout names.

    A run killed before its ``services down``, or a checkout removed and cloned
    again at the same path (CI does this every run), leaves a server whose
    command line names this folder holding the port the new one needs; its
    credentials went with the old checkout, so nothing here could use it.
    Called only when this checkout's own pid file names no running server;
    only ``program`` processes are stopped, not, say, a ``tail -f`` of a log.
    """
    marker = f"{home}/".encode()
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            int(entry.name) not in mine
            and Path(arguments[0].decode(errors="replace")).name == program
            and any(marker in argument for argument in arguments)
        ):
            found.append(int(entry.name))
    for pid in found:
        print(
            f"stopping {what} left running from {home} by an earlier run (pid {pid}) ...",
            flush=True,
        )
        _stop_pid(pid, grace)
    return found


def local_status(
    name: str, pid_file: Path, port: int, where: str, log: Path, detail: str
) -> ServiceStatus:
    """Up when its pid file names a process and its port on 127.0.0.1 answers."""
    pid = read_pid(pid_file)
    return ServiceStatus(
        name=name,
        running=pid is not None and port_open("127.0.0.1", port),
        where=where,
        pid=pid,
        managed=True,
        log=log,
        detail=detail,
    )
