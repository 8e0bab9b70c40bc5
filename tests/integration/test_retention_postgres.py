"""The retention job on PostgreSQL: two schedulers at once, and the signed certificate."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import date

from psycopg_pool import ConnectionPool

from cme.bootstrap import build_application, build_retention_job
from cme.db.roles import Role, role_url
from cme.secrets import load_ledger_signer
from cme.settings import PROJECT_ROOT
from consumers.ledger import LedgerWriter
from devtools.synthetic import SyntheticCounty
from domain.commands import RegisterChild
from tests.conftest import Services
from tests.seeds import seed

TODAY = date(2026, 11, 30)


def test_two_schedulers_at_once_shred_each_child_once_and_verify_certifies(
    services: Services,
) -> None:
    apps = [build_application(services.settings, today=lambda: TODAY) for _ in range(2)]
    try:
        county = SyntheticCounty(seed=seed("two schedulers"))
        # Born on a day whose 25th birthday is far in the past for the run below,
        # yet valid to register on TODAY.
        ids = [
            apps[0].register_child(
                RegisterChild.of(county.register_child(date_of_birth=f"2002-02-{day:02d}"))
            )
            for day in range(1, 11)
        ]
        jobs = [build_retention_job(services.settings, app) for app in apps]
        reports = []
        barrier = threading.Barrier(2)

        def run(index: int) -> None:
            barrier.wait()
            reports.append(jobs[index].run(today=date(2027, 3, 1)))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        shredded = [c for r in reports for c in r.shredded]
        assert set(ids) <= set(shredded)
        assert len(shredded) == len(set(shredded)), "a child was shredded twice"
        for child_id in ids:
            events = [type(e).__name__ for e in apps[0].events.get(child_id)]
            assert events.count("PersonalDataShredded") == 1
    finally:
        for app in apps:
            app.close()

    # The ledger writer records the erasure receipts (as the running worker does).
    pool = ConnectionPool(
        role_url(services.settings, Role.LEDGER), min_size=1, max_size=1, open=True
    )
    try:
        LedgerWriter(pool, load_ledger_signer(services.settings)).catch_up()
    finally:
        pool.close()

    # The certificate, from the command line, as an auditor would run it.
    result = subprocess.run(
        [sys.executable, "-m", "cme.cli", "shred", "verify", str(ids[0])],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    certificate = json.loads(result.stdout)
    assert certificate["result"] == "shredded"
    assert certificate["signature"]["alg"] == "Ed25519"
    stores = {c["store"] for c in certificate["checks"]}
    assert {"key store", "event store", "blind index"} <= stores


def test_the_cascade_tombstones_the_childs_quarantined_messages_on_kafka(
    services: Services,
) -> None:
    from cme.shred import verify
    from consumers.intake.service import IntakeService
    from consumers.quarantine_kafka import KafkaQuarantine, read_quarantine
    from domain.values import ShredReason
    from tests.intake_support import IntakeHarness

    app = build_application(services.settings)
    sink = KafkaQuarantine(services.settings)
    try:
        harness = IntakeHarness(app, seed=seed("retention intake"))
        harness.service = IntakeService(app, harness.keys, sink, harness.cipher)
        child = harness.traffic.new_child()
        good = harness.traffic.new_pupil_registered(child)
        bad = harness.traffic.new_pupil_registered(child)
        bad["sender"] = good["sender"]
        bad["payload"]["on_roll_from"] = "not a date"
        harness.run([harness.seal(good)], track=False)
        harness.run([harness.seal_unchecked(bad)], track=False)
        ref = f"{good['sender']}|{child['ref']}"
        child_id = app.find_child_by_sender_ref(ref)
        assert child_id is not None
        digest = app.blind_index.sender_ref_entry(ref)[1].hex()
        held = [r for r in read_quarantine(services.settings) if r.subject_digest == digest]
        assert len(held) == 1

        assert build_retention_job(services.settings, app).shred_now(
            child_id, ShredReason.ERASURE_APPROVED
        )

        remaining = {r.quarantine_id for r in read_quarantine(services.settings)}
        assert held[0].quarantine_id not in remaining
        # The copy behind the tombstone is still in the broker's log until compaction,
        # but its key (the child's own quarantine key) is gone: it opens no more.
        from domain.markers import Shredded

        assert held[0].key_scope == "subject"
        assert isinstance(harness.cipher.original(held[0]), Shredded)
        certificate = verify(services.settings, child_id)
        check = next(c for c in certificate.checks if "quarantine" in c.store)
        assert check.passed, check.detail
        assert check.detail == (
            "1 quarantined messages of the child erased; 1 copies still on the topic "
            "awaiting compaction, 0 of them open"
        )
    finally:
        sink.close()
        app.close()
