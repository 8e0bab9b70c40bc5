"""API benchmark: a child-record read and a record-enquiry command at 1, 10 and 50 clients.

The API runs as `cme serve` in its own process on the bench database, behind
the project's Keycloak (a real token, checked at every request). Each client
is a thread with its own keep-alive connection, sending for a fixed time.
Every figure stands beside references measured in the same run at the same
concurrency: the read's two queries on raw psycopg (one connection a client)
and each use case called in-process, one at a time as the API runs them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
from rich.progress import Progress

from cme.bootstrap import App, build_application, read_models
from cme.db.roles import Role, role_url
from cme.settings import PROJECT_ROOT, load_settings
from consumers.inprocess_feed import catch_up
from devtools.bench.environment import bench_settings
from devtools.bench.report import Figure, publish
from devtools.services import manager
from devtools.services.common import ServiceError, wait_until
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from projections.store import SqlReadModels

CLIENTS = (1, 10, 50)
ENQUIRY = {"agency": "school", "method": "phone", "outcome": "not_known_to_agency"}


@dataclass(frozen=True)
class Run:
    """Latencies (seconds) of every request of one measurement, and its wall time."""

    latencies: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def _drive(clients: int, seconds: float, make: Callable[[int], Callable[[], None]]) -> Run:
    """``clients`` threads, each calling its own request function until the time is up."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        try:
            request = make(index)
            for _ in range(3):  # warm the connection and the server's caches
                request()
            start.wait()
            mine = latencies[index]
            while time.perf_counter() < deadline[0]:
                began = time.perf_counter()
                request()
                mine.append(time.perf_counter() - began)
        except BaseException as exc:  # reported after the run, not lost in a thread
            failures.append(exc)
            start.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + 3600
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: raised below
        start.wait()
    began = time.perf_counter()
    deadline[0] = began + seconds
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return Run([x for mine in latencies for x in mine], time.perf_counter() - began)


class _Http:
    """One keep-alive connection to the API, as one caseworker tool would hold."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def get(self, path: str) -> None:
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
        self._answer(200)

    def post(self, path: str, body: dict[str, object]) -> None:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{uuid4()}",
            "If-Match": "*",
        }
        self.connection.request("POST", path, body=json.dumps(body), headers=headers)
        self._answer(201)

    def _answer(self, expected: int) -> None:
        response = self.connection.getresponse()
        body = response.read()
        if response.status != expected:
            msg = f"the API answered {response.status}: {body[:300]!r}"
            raise RuntimeError(msg)


def _seed(app: App, children: int, seed: int, progress: Progress) -> list[tuple[UUID, UUID]]:
    """Children with an open case each: (child, case) pairs."""
    county = SyntheticCounty(seed=seed)
    task = progress.add_task("children with open cases", total=children)
    pairs = []
    for _ in range(children):
        child_id = app.register_child(c.RegisterChild.of(county.register_child()))
        case_id = app.open_case(
            c.OpenCase.of(
                {
                    "actor": "bench:seed",
                    "child_id": child_id,
                    "source": "school",
                    "reason": "removed_from_roll_whereabouts_unknown",
                    "referred_on": date.today().isoformat(),
                }
            )
        )
        pairs.append((child_id, case_id))
        progress.advance(task)
    progress.remove_task(task)
    return pairs


def _serve(
    env: dict[str, str], port: int, log: Path, processes: int = 1
) -> subprocess.Popen[bytes]:
    serve = ["serve", "--port", str(port), "--processes", str(processes)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cme.cli", *serve],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def answers() -> bool:
        if server.poll() is not None:
            msg = f"the API exited with {server.returncode}; read {log}"
            raise ServiceError(msg)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/openapi.json")
            return connection.getresponse().status == 200
        except OSError:
            return False

    wait_until(answers, timeout=60, what="the API", log=log)
    return server


@dataclass
class Workloads:
    """Each measured request, as a factory of one client's request function."""

    port: int
    token: str
    pairs: list[tuple[UUID, UUID]]
    caseworker_url: str
    app: App
    caseworker: SqlReadModels
    lock: threading.Lock

    def _children(self, index: int) -> Callable[[], UUID]:
        """Each request a child drawn at random, as a team's reads spread over its cases.

        (One child read thousands of times would make every load of it replay
        thousands of logged reads: README's benchmark notes say so.)
        """
        draw = random.Random(index).choice
        return lambda: draw(self.pairs)[0]

    def _cases(self, index: int) -> Callable[[], UUID]:
        draw = random.Random(-index - 1).choice
        return lambda: draw(self.pairs)[1]

    def api_read(self, index: int) -> Callable[[], None]:
        client, child = _Http(self.port, self.token), self._children(index)
        return lambda: client.get(f"/v1/children/{child()}")

    def raw_read(self, index: int) -> Callable[[], None]:
        """The API's two queries, on a plain connection of the caseworker role."""
        conn = psycopg.connect(self.caseworker_url, autocommit=True)
        children = self._children(index)

        def read() -> None:
            child = children()
            conn.execute(
                "SELECT * FROM caseworker.children WHERE child_id = %s", (child,)
            ).fetchall()
            conn.execute(
                "SELECT * FROM caseworker.case_timeline WHERE child_id = %s ORDER BY case_id, seq",
                (child,),
            ).fetchall()

        return read

    def local_read(self, index: int) -> Callable[[], None]:
        """What the endpoint does, without HTTP: two reads and the logged read."""
        children = self._children(index)

        def read() -> None:
            child = children()
            self.caseworker.rows_about("children", child)
            self.caseworker.rows_about("case_timeline", child, order_by="case_id, seq")
            with self.lock:
                self.app.record_personal_data_read(child, "staff:bench", "caseworker record")

        return read

    def api_command(self, index: int) -> Callable[[], None]:
        client, case = _Http(self.port, self.token), self._cases(index)
        body: dict[str, object] = {**ENQUIRY, "made_on": date.today().isoformat()}
        return lambda: client.post(f"/v1/cases/{case()}/enquiries", body)

    def local_command(self, index: int) -> Callable[[], None]:
        cases = self._cases(index)
        fields = {**ENQUIRY, "actor": "staff:bench", "made_on": date.today()}

        def command() -> None:
            with self.lock:
                self.app.record_enquiry(c.RecordEnquiry.of({**fields, "case_id": cases()}))

        return command


def run(children: int, seconds: float, seed: int, processes: int = 1) -> None:
    settings = bench_settings()
    keycloak = manager.plan(load_settings()).keycloak
    if keycloak is None:
        msg = "the API benchmark signs in at the project's Keycloak: run `scripts/services up`"
        raise ServiceError(msg)
    app = build_application(settings)
    with Progress(transient=True) as progress:
        pairs = _seed(app, children, seed, progress)
    models, close_models = read_models(settings, Role.PROJECTOR)
    catch_up(app, models)
    close_models()
    caseworker, close_caseworker = read_models(settings, Role.CASEWORKER)
    port = _free_port()
    env = {
        **os.environ,
        "CME_MODE": "services",
        "CME_DATABASE_URL": settings.require_database_url(),
        "CME_OIDC_ISSUER": keycloak.issuer,
    }
    results = PROJECT_ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    server = _serve(env, port, results / "api-server.log", processes)
    figures: list[Figure] = []
    try:
        for clients in CLIENTS:
            work = Workloads(
                port,
                keycloak.token("officer.ada"),  # fresh for each level: tokens live 5 minutes
                pairs,
                role_url(settings, Role.CASEWORKER),
                app,
                caseworker,
                threading.Lock(),
            )
            print(f"{clients} client(s): reads ...", flush=True)
            read = _drive(clients, seconds, work.api_read)
            raw = _drive(clients, seconds, work.raw_read)
            local = _drive(clients, seconds, work.local_read)
            print(f"{clients} client(s): commands ...", flush=True)
            command = _drive(clients, seconds, work.api_command)
            local_command = _drive(clients, seconds, work.local_command)
            figures += _figures("child-record read", clients, read, local)
            figures.append(
                Figure(
                    f"child-record read p95, {clients} clients",
                    read.percentile_ms(95),
                    "ms",
                    "the same two queries on raw psycopg, p95",
                    raw.percentile_ms(95),
                )
            )
            figures += _figures("record-enquiry command", clients, command, local_command)
    finally:
        server.terminate()
        server.wait(timeout=30)
        close_caseworker()
        app.close()
    publish(
        "api",
        {
            "children": children,
            "seconds_each": seconds,
            "clients": list(CLIENTS),
            "api_processes": processes,
        },
        figures,
    )


def _figures(what: str, clients: int, api: Run, local: Run) -> list[Figure]:
    reference = "the same use case in-process"
    return [
        Figure(f"{what} rate, {clients} clients", api.rate, "req/s", reference, local.rate),
        *[
            Figure(
                f"{what} p{p}, {clients} clients",
                api.percentile_ms(p),
                "ms",
                f"{reference}, p{p}",
                local.percentile_ms(p),
            )
            for p in (50, 95, 99)
        ],
    ]


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
