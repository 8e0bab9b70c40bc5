"""`make demo`: a synthetic county's traffic through the main job, then the caseworker view.

Embedded by default (SQLite files under ``.local/demo``, projections fed from
the store's notification log); with ``--services`` the same traffic goes
through Kafka, the intake worker, the relay and the projector into
PostgreSQL. Seeded, so every run shows the same county. No real people: every
name, date and address is generated.
"""

from __future__ import annotations

import logging
import random
import shutil
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from rich.console import Console
from rich.progress import Progress

from cme import caseworker_views as views
from cme.bootstrap import App, build_application, build_retention_job
from cme.db.roles import Role
from cme.secrets import intake_public_key, load_intake_keys
from cme.settings import PROJECT_ROOT, Mode, Settings, load_settings
from consumers.config import KafkaRole
from consumers.envelopes import seal_line
from consumers.inprocess_feed import catch_up
from consumers.intake.service import Inbound, IntakeService
from consumers.quarantine import InMemoryQuarantine, QuarantineCipher
from devtools.senders import senders_of
from devtools.synthetic import SyntheticCounty, SyntheticTraffic
from domain import commands as c
from domain.case import Case
from domain.errors import DomainError
from domain.values import LawfulBasis
from projections.ledger_store import LedgerReader
from projections.store import SqlReadModels

console = Console()
DEMO_DATABASE = "cme_demo"
DEMO_PREFIX = "demo"


def _settings(services: bool) -> Settings:
    settings = load_settings()
    if not services:
        folder = settings.data_dir / "demo"
        shutil.rmtree(folder / "embedded", ignore_errors=True)
        return settings.model_copy(update={"mode": Mode.EMBEDDED, "data_dir": folder})
    from devtools.services import isolation, manager

    plan = manager.plan(settings)
    if plan.postgres is not None or plan.kafka is not None:
        manager.up(plan)
    base = settings.model_copy(
        update={
            "mode": Mode.SERVICES,
            "database_url": plan.database_url,
            "kafka_bootstrap_servers": plan.bootstrap,
        }
    )
    # The demo's own database and topics, made anew each run: its synthetic
    # county and its clock step never touch the user's data.
    with console.status(f"a fresh {DEMO_DATABASE} database and {DEMO_PREFIX}.* topics"):
        return isolation.fresh_topics(isolation.fresh_database(base, DEMO_DATABASE), DEMO_PREFIX)


def _sealed_traffic(settings: Settings, messages: int, seed: int) -> list[tuple[bytes, bytes]]:
    kid, public_key = intake_public_key(settings)
    traffic = SyntheticTraffic(SyntheticCounty(seed=seed))
    out = []
    with (
        senders_of(settings) as senders,
        Progress(console=console, transient=True) as progress,
    ):
        task = progress.add_task("generating and sealing upstream messages", total=messages)
        for line in traffic.mixed(messages):
            envelope, raw = seal_line(line, kid, public_key, senders)
            out.append((envelope.subject_ref.encode(), raw))
            progress.advance(task)
    return out


def _caseworker_activity(app: App, seed: int, after: int) -> int:
    """A term of casework on this run's open cases: enquiries, outcomes, closures, disclosures."""
    rng = random.Random(seed)
    today = app.today()
    case_ids = [
        UUID(str(n.originator_id))
        for n in app.recorder.select_notifications(
            start=after,
            limit=1_000_000,
            topics=[get_topic(Case.Opened)],
            inclusive_of_start=False,
        )
    ]
    done = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("caseworkers at work on the open cases", total=len(case_ids))
        for case_id in case_ids:
            progress.advance(task)
            case = app.get_case(case_id)
            if case.status.value == "closed":
                continue
            officer = f"cw:{rng.choice(['ahmed', 'brown', 'chen', 'davies', 'evans'])}"
            on = min(today, case.referred_on + timedelta(days=rng.randrange(1, 20)))
            try:
                roll = rng.random()
                if roll < 0.15:
                    app.close_case(
                        c.CloseCase(
                            actor=officer,
                            case_id=case_id,
                            outcome="on_roll_at_school",
                            closed_on=on,
                        )
                    )
                    continue
                app.assign_officer(
                    c.AssignOfficer(
                        actor="mgr:cme",
                        case_id=case_id,
                        officer=officer,
                        next_action_due=today + timedelta(days=rng.randrange(-10, 20)),
                    )
                )
                if roll < 0.75:
                    app.record_enquiry(
                        c.RecordEnquiry(
                            actor=officer,
                            case_id=case_id,
                            made_on=on,
                            agency=rng.choice(["gp", "school_nursing", "housing", "police"]),
                            method="secure_portal",
                            outcome=rng.choice(
                                ["not_known_to_agency", "no_response", "information_received"]
                            ),
                        )
                    )
                if 0.45 < roll < 0.7:
                    app.change_case_status(
                        c.ChangeCaseStatus(
                            actor=officer,
                            case_id=case_id,
                            status="whereabouts_unknown",
                            changed_on=on,
                        )
                    )
                if 0.7 < roll < 0.72:  # requested by the officer, approved by the manager
                    requested = app.request_disclosure(
                        c.RequestDisclosure(
                            actor=officer,
                            child_id=case.child_id,
                            case_id=case_id,
                            recipient_agency="police",
                            recipient_organisation="Synthetic Constabulary",
                            purpose="safeguarding",
                            lawful_basis=LawfulBasis.SAFEGUARDING,
                            categories=["names", "address", "whereabouts"],
                            necessity="Officers are checking on the child's safety and need "
                            "to know where the child may be",
                            requested_on=on,
                        )
                    )
                    app.approve_disclosure(
                        c.ApproveDisclosure(
                            actor="mgr:cme", disclosure_id=requested.disclosure_id, approved_on=on
                        )
                    )
                done += 1
            except DomainError:
                continue
    return done


def _first_25th_birthday(app: App) -> tuple[date, list[UUID]] | None:
    """The earliest retention date among the children, and whose it is."""
    store = app.data_keys.store
    candidates = store.due(date.max, 500)  # earliest expiry first; quarantine keys too
    keys = store.get_many(candidates)
    for key_id in candidates:
        expires_on = keys[key_id].expires_on
        if expires_on is None or not app.is_recorded(key_id):
            continue
        try:
            app.get_child(key_id)
        except DomainError:
            continue
        return expires_on, [c for c in candidates if keys[c].expires_on == expires_on]
    return None


def _move_the_clock_forward(settings: Settings) -> list[UUID]:
    """Run the retention job on the day before the first 25th birthday, then on it."""
    app = build_application(settings)
    try:
        first = _first_25th_birthday(app)
        if first is None:
            console.print("no child in the demo has a retention date")
            return []
        birthday, turning = first
        job = build_retention_job(settings, app)
        before = job.run(birthday - timedelta(days=1))
        early = [c for c in before.shredded if c in turning]
        console.print(
            f"retention job run as if on {birthday - timedelta(days=1)} (the day before): "
            f"{len(before.shredded)} children shredded, {len(early)} of those turning 25 the "
            f"next day; {len(before.other_keys)} expired quarantine keys destroyed"
        )
        on_the_day = job.run(birthday)
        console.print(
            f"retention job run as if on {birthday} (the 25th birthday): "
            f"{len(on_the_day.shredded)} child(ren) shredded, {len(on_the_day.deferred)} "
            "deferred by a legal hold"
        )
        return on_the_day.shredded
    finally:
        app.close()


def _cme() -> str:
    """The running ``cme`` by its path: the venv's bin folder is not on a newcomer's PATH."""
    program = Path(sys.argv[0])
    if program.name == "cme" and program.exists():
        return str(program.resolve().parent / "cme")
    return "cme"


def _certify(settings: Settings, store: SqlReadModels, shredded: list[UUID]) -> bool:
    from cme.shred import verify

    if not shredded:
        return False
    child_id = shredded[0]
    views.print_all(views.child_summary(store, str(child_id)), "table")
    certificate = verify(settings, child_id)
    for check in certificate.checks:
        mark = "ok  " if check.passed else "FAIL"
        console.print(f"  {mark} {check.store}: {check.detail}", markup=False)
    again = f"{_cme()} shred verify {child_id}"
    if settings.effective_mode is Mode.EMBEDDED:
        again = f"CME_MODE=embedded CME_DATA_DIR={settings.data_dir} {again}"
    else:
        # The demo's database and topics, named without printing a password, in a
        # subshell that first takes the local services' settings: the command works
        # in the shell `make demo` was started from, which may have none of them.
        services = PROJECT_ROOT / "scripts" / "services"
        again = (
            f'(eval "$({services} env)" && '
            f'CME_DATABASE_URL="${{CME_DATABASE_URL%/*}}/{DEMO_DATABASE}" '
            f"CME_TOPIC_UPSTREAM={settings.topic_upstream} "
            f"CME_TOPIC_QUARANTINE={settings.topic_quarantine} "
            f"CME_TOPIC_EVENTS={settings.topic_events} {again})"
        )
    console.print(
        f"certificate for {child_id}: "
        f"{'SHREDDED' if certificate.passed else 'NOT SHREDDED'}, signed by "
        f"{certificate.key_id}; to check again: {again}",
        markup=False,
    )
    return certificate.passed


def _embedded(settings: Settings, messages: int, seed: int) -> SqlReadModels:
    from cme.bootstrap import read_models

    app = build_application(settings)
    first = app.recorder.max_notification_id() or 0
    quarantine = InMemoryQuarantine()
    service = IntakeService(
        app,
        load_intake_keys(settings),
        quarantine,
        QuarantineCipher(app.data_keys, 30),
        today=app.today,
    )
    traffic = _sealed_traffic(settings, messages, seed)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(
            "intake: upstream messages into the event store", total=len(traffic)
        )
        for start in range(0, len(traffic), 500):
            chunk = traffic[start : start + 500]
            batch = [
                Inbound(raw, key, "demo.upstream", 0, start + i)
                for i, (key, raw) in enumerate(chunk)
            ]
            service.process(batch, None)
            progress.advance(task, len(chunk))
    _caseworker_activity(app, seed, after=first)
    store, _ = read_models(settings)
    with console.status("projecting the event store into the caseworker read models"):
        read = catch_up(app, store)
    console.print(
        f"embedded: {len(traffic)} upstream messages, {read} events projected, "
        f"{len(quarantine.records)} quarantined"
    )
    app.close()
    return store


def _services(settings: Settings, messages: int, seed: int) -> SqlReadModels:
    from cme.bootstrap import read_models
    from cme.runtime import start_workers
    from consumers import kafka_io

    traffic = _sealed_traffic(settings, messages, seed)
    app = build_application(settings)
    first = app.recorder.max_notification_id() or 0
    stop = threading.Event()
    running = start_workers(settings, ["intake", "relay", "projector", "ledger"], stop)
    producer = kafka_io.producer(settings, KafkaRole.SENDER)
    for key, raw in traffic:
        producer.send(settings.topic_upstream, key=key, value=raw)
    producer.flush()
    producer.close()
    try:
        with console.status("intake, relay and projector at work (Kafka, PostgreSQL)"):
            _wait_for_pipeline(settings, app, running, len(traffic))
        _caseworker_activity(app, seed, after=first)
        with console.status("relay and projector catching up with the casework"):
            _wait_for_pipeline(settings, app, running, len(traffic))
    finally:
        stop.set()
        running.join(stop, report_every=0.1)
        app.close()
    store, _ = read_models(settings, Role.CASEWORKER)
    return store


def _wait_for_pipeline(
    settings: Settings, app: App, running: Any, messages: int = 0, timeout: float = 600
) -> None:
    """Until intake has taken ``messages`` and relay, projector and ledger have the whole log."""
    deadline = time.monotonic() + timeout
    ledger = LedgerReader(settings.require_database_url())
    while time.monotonic() < deadline:
        if running.failures:
            msg = "; ".join(f"worker {n} died: {why}" for n, why in running.failures.items())
            raise RuntimeError(msg)
        last = app.recorder.max_notification_id() or 0
        relayed = app.tracked_position(f"relay:{settings.topic_events}") or 0
        chained = ledger.position()
        relay = running.counters["relay"]()
        taken = 0
        if "intake" in running.counters:
            intake = running.counters["intake"]()
            taken = intake["applied"] + intake["duplicates"] + intake["quarantined"]
        if (
            taken >= messages
            and relayed >= last
            and chained >= last
            and running.counters["projector"]()["read"] >= relay["published"]
        ):
            return
        time.sleep(0.5)
    state = " ".join(
        f"{name}[{' '.join(f'{k}={v}' for k, v in counts().items())}]"
        for name, counts in running.counters.items()
    )
    msg = f"the pipeline did not catch up in {timeout:.0f}s; the workers stood at: {state}"
    raise TimeoutError(msg)


def _catch_up_services(settings: Settings) -> None:
    """Relay, projector and ledger writer until the shredding events have reached them all."""
    from cme.runtime import start_workers

    stop = threading.Event()
    running = start_workers(settings, ["relay", "projector", "ledger"], stop)
    app = build_application(settings)
    try:
        _wait_for_pipeline(settings, app, running, timeout=300)
    finally:
        stop.set()
        running.join(stop, report_every=0.1)
        app.close()


def _disclosure_through_the_api(settings: Settings, store: SqlReadModels) -> None:
    """One disclosure over HTTP on two people's word, and the ledger entries it makes.

    The API runs here as `cme serve` would, with development tokens (the
    embedded mode has no identity provider): a team manager who also takes
    cases requests, is refused his own approval, and a colleague approves.
    """
    from cme import dev_issuer
    from cme.api.app import create_app
    from cme.api.serving import bind, server
    from projections.ledger import ENTRIES, canonical

    console.rule("A disclosure through the API: requested, then approved by someone else")
    cases, _ = store.page("open_cases", "days_open DESC, case_id", 500, 0)
    open_case = next(case for case in cases if not case["restricted"])
    listener = bind("127.0.0.1", 0)
    port = listener.getsockname()[1]
    stop = threading.Event()
    serving = threading.Thread(
        # The development issuer, whatever sign-in this shell names: the demo's own tokens.
        target=server,
        args=(create_app(settings.model_copy(update={"oidc_issuer": None})), listener, stop),
        name="demo-api",
        daemon=True,
    )
    serving.start()
    try:
        api = _DemoApi(port, settings, dev_issuer.issue)
        path = f"/v1/children/{open_case['child_id']}/disclosure-requests"
        request = {
            "case_id": str(open_case["case_id"]),
            "recipient_agency": "police",
            "recipient_organisation": "Synthetic Constabulary",
            "purpose": "locate_child",
            "lawful_basis": LawfulBasis.CRIME_PREVENTION.value,
            "categories": ["names", "address", "whereabouts"],
            "necessity": "Officers are searching for the child today and need the last "
            "known address and who the child was last seen with",
            "requested_on": date.today().isoformat(),
        }
        asked = api.call("POST", path, (["caseworker", "senior_officer"], "senior.dan"), request)
        one = f"/v1/disclosures/{asked['disclosure_id']}"
        console.print(
            f"POST {path} as staff:senior.dan (caseworker, senior officer): {asked['status']}",
            markup=False,
        )
        waiting = api.call("GET", "/v1/disclosure-requests", ("senior_officer", "senior.cy"))
        console.print(f"GET /v1/disclosure-requests as staff:senior.cy: {waiting['total']} waiting")
        today = {"approved_on": date.today().isoformat()}
        own = api.call(
            "POST", f"{one}/approve", (["caseworker", "senior_officer"], "senior.dan"), today, 409
        )
        console.print(
            f"POST {one}/approve as staff:senior.dan: {own['status']} {own['errors'][0]['rule']}",
            markup=False,
        )
        made = api.call("POST", f"{one}/approve", ("senior_officer", "senior.cy"), today)
        console.print(f"POST {one}/approve as staff:senior.cy: {made['status']}", markup=False)
    finally:
        stop.set()
        serving.join(timeout=30)
    app = build_application(settings)
    try:
        for event in app.events.get(UUID(asked["disclosure_id"])):
            entry = ENTRIES[get_topic(type(event))](event)
            console.print(f"ledger entry: {canonical(entry).decode()}", markup=False)
    finally:
        app.close()


class _DemoApi:
    """The demo's HTTP client: a development token for a role, an Idempotency-Key per POST."""

    def __init__(self, port: int, settings: Settings, issue: Any) -> None:
        self.port = port
        self.settings = settings
        self.issue = issue
        self._wait_until_it_answers()

    def _wait_until_it_answers(self) -> None:
        import http.client

        for _ in range(300):  # the server thread may still be starting
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/openapi.json")
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.1)
        msg = f"the demo's API on port {self.port} did not answer within 30 s"
        raise RuntimeError(msg)

    def call(
        self,
        method: str,
        path: str,
        who: tuple[str | list[str], str],
        body: dict[str, Any] | None = None,
        expect: int | None = None,
    ) -> dict[str, Any]:
        import http.client
        import json
        import uuid

        role, subject = who
        headers = {"Authorization": f"Bearer {self.issue(self.settings, role, subject)}"}
        if method == "POST":
            headers |= {
                "Content-Type": "application/json",
                "Idempotency-Key": f"demo-{uuid.uuid4()}",
                "If-Match": "*",
            }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = json.dumps(body or {}) if method == "POST" else None
        connection.request(method, path, body=sent, headers=headers)
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
        connection.close()
        wanted = expect or (201 if method == "POST" else 200)
        if response.status != wanted:
            msg = f"{method} {path} answered {response.status}: {answer}"
            raise RuntimeError(msg)
        return answer


def _shredding_at_25(settings: Settings, store: SqlReadModels, services: bool) -> bool:
    """Shred whoever turns 25 first, project it, and certify it; False if not certified."""
    console.rule("Moving the clock forward: shredding on the 25th birthday")
    shredded = _move_the_clock_forward(settings)
    with console.status("projections (and the ledger) taking in the shredding"):
        if services:
            _catch_up_services(settings)
        else:
            app = build_application(settings)
            try:
                catch_up(app, store)
            finally:
                app.close()
    return _certify(settings, store, shredded)


def run_demo(services: bool, messages: int, seed: int) -> int:
    # Per-message warnings would bury the view; the demo reports the counts instead.
    logging.getLogger("cme").setLevel(logging.ERROR)
    logging.getLogger("kafka").setLevel(logging.ERROR)
    settings = _settings(services)
    started = time.monotonic()
    console.rule(f"CME demo: a synthetic county, {messages} upstream messages (seed {seed})")
    store = _services(settings, messages, seed) if services else _embedded(settings, messages, seed)
    console.rule("What a caseworker sees")
    views.print_all(
        [
            views.open_cases(store),
            views.whereabouts_unknown(store, over_days=14),
            views.overdue_reviews(store),
            views.moves_awaiting_confirmation(store),
            *views.dfe_return(store),
        ],
        "table",
    )
    if not services:
        _disclosure_through_the_api(settings, store)
    certified = _shredding_at_25(settings, store, services)
    console.print(
        f"demo finished in {time.monotonic() - started:.0f}s; all people above are synthetic"
    )
    if not certified:
        console.print("the shredded child was NOT certified: see the failing checks above")
        return 1
    return 0
