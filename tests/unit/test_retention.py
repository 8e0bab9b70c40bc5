"""Crypto-shredding at 25 on the embedded stores, with a controllable clock."""

from __future__ import annotations

import json
import threading
from datetime import date
from uuid import UUID, uuid4

import pytest

from application.retention import RetentionJob
from cme.bootstrap import App, build_retention_job
from cme.settings import Settings
from cme.shred import verify
from consumers.inprocess_feed import catch_up
from consumers.intake.decode import Reason
from consumers.quarantine import QuarantineCipher
from devtools.synthetic import SyntheticCounty
from domain.commands import OpenCase, PlaceLegalHold, RegisterChild, ReleaseLegalHold
from domain.markers import Shredded
from domain.values import ShredReason
from projections.store import SqliteReadModels
from tests.factories import TODAY

BIRTHDAY_25 = date(2027, 1, 15)


def register(app: App, born: date) -> UUID:
    command = SyntheticCounty(seed=born.toordinal()).register_child(date_of_birth=born.isoformat())
    return app.register_child(RegisterChild.of(command))


def shredded_events(app: App, child_id: UUID) -> int:
    return sum(1 for e in app.events.get(child_id) if type(e).__name__ == "PersonalDataShredded")


def test_shredded_on_the_25th_birthday_and_not_a_day_early(settings: Settings, app: App) -> None:
    child_id = register(app, date(2002, 1, 15))
    younger = register(app, date(2010, 5, 1))
    job = build_retention_job(settings, app)
    # The day before the 25th birthday: nothing happens.
    assert job.run(today=date(2027, 1, 14)).shredded == []
    assert not app.get_child(child_id).is_shredded
    # On the birthday the key goes, and everything personal with it.
    report = job.run(today=BIRTHDAY_25)
    assert report.shredded == [child_id]
    child = app.get_child(child_id)
    assert isinstance(child.details, Shredded) and child.shred_reason == "retention_reached"
    # The younger child is untouched: still found by their UPN, still readable.
    upn = app.get_child(younger).current_details().upn
    assert upn is not None
    assert app.find_child_by_upn(upn) == younger
    assert not app.get_child(younger).is_shredded
    # A second run (or a catch-up after downtime) finds nothing more to do.
    assert job.run(today=BIRTHDAY_25).shredded == []
    assert shredded_events(app, child_id) == 1


def test_days_of_downtime_are_caught_up(settings: Settings, app: App) -> None:
    ids = [register(app, date(2002, 1, day)) for day in (10, 11, 12)]
    report = build_retention_job(settings, app).run(today=date(2027, 2, 1))
    assert sorted(report.shredded) == sorted(ids)


def test_a_legal_hold_defers_and_its_release_resumes(settings: Settings, app: App) -> None:
    child_id = register(app, date(2002, 1, 15))
    hold = uuid4()
    app.place_legal_hold(
        PlaceLegalHold.of(
            {
                "actor": "legal:1",
                "child_id": child_id,
                "hold_id": hold,
                "reason": "Inquiry order suspends destruction",
                "authority": "Synthetic Inquiry 2026/3",
            }
        )
    )
    job = build_retention_job(settings, app)
    for day in (15, 16, 17):
        assert job.run(today=date(2027, 1, day)).deferred == [child_id]
    # The deferral is recorded once (it reaches the ledger), not every day.
    deferrals = [e for e in app.events.get(child_id) if type(e).__name__ == "ShreddingDeferred"]
    assert len(deferrals) == 1 and deferrals[0].hold_ids == [hold]  # type: ignore[attr-defined]
    assert not app.get_child(child_id).is_shredded
    app.release_legal_hold(
        ReleaseLegalHold.of({"actor": "legal:1", "child_id": child_id, "hold_id": hold})
    )
    assert job.run(today=date(2027, 1, 18)).shredded == [child_id]


def test_two_runs_at_once_shred_each_child_once(settings: Settings, app: App) -> None:
    ids = [register(app, date(2002, 1, day)) for day in range(1, 16)]
    jobs = [build_retention_job(settings, app) for _ in range(2)]
    reports = []
    start = threading.Barrier(2)

    def run(job: RetentionJob) -> None:
        start.wait()
        reports.append(job.run(today=BIRTHDAY_25))

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(c for r in reports for c in r.shredded) == sorted(ids)
    assert all(shredded_events(app, c) == 1 for c in ids)


def test_an_interrupted_cascade_is_finished_by_the_next_run(settings: Settings, app: App) -> None:
    child_id = register(app, date(2002, 1, 15))
    # The job died right after destroying the key.
    app.data_keys.destroy(child_id, reason="retention_reached")
    assert app.blind_index.store.count_for(child_id) > 0
    report = build_retention_job(settings, app).run(today=TODAY)
    assert report.finished == [child_id]
    assert app.blind_index.store.count_for(child_id) == 0
    assert shredded_events(app, child_id) == 1


def test_an_approved_erasure_shreds_early_by_the_same_path(settings: Settings, app: App) -> None:
    child_id = register(app, date(2014, 6, 1))
    assert build_retention_job(settings, app).shred_now(child_id, ShredReason.ERASURE_APPROVED)
    assert app.get_child(child_id).shred_reason == "erasure_approved"


def test_expired_quarantine_keys_are_destroyed_too(settings: Settings, app: App) -> None:
    cipher = QuarantineCipher(app.data_keys, retention_days=30)
    record = cipher.record(
        __import__("consumers.intake.decode", fromlist=["Reason"]).Reason("not_json", "", "x"),
        b"raw",
        None,
        "t",
        0,
        1,
        {},
    )
    report = build_retention_job(settings, app).run(today=date(2099, 1, 1))
    assert UUID(record.key_id) in report.other_keys
    assert isinstance(cipher.original(record), Shredded)


def test_verify_certifies_nothing_readable_anywhere(settings: Settings, app: App) -> None:
    child_id = register(app, date(2002, 1, 15))
    app.open_case(
        OpenCase.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "source": "member_of_public",
                "reason": "never_registered",
                "referred_on": TODAY,
                "referrer_name": "Synthetic Neighbour",
                "notes": "Seen at the bus stop",
            }
        )
    )
    store = SqliteReadModels(str(settings.data_dir / "embedded" / "caseworker.db"))
    store.create()
    catch_up(app, store)
    before = verify(settings, child_id)
    assert not before.passed  # still readable: the certificate says so
    build_retention_job(settings, app).run(today=BIRTHDAY_25)
    catch_up(app, store)
    store.close()
    certificate = verify(settings, child_id)
    assert certificate.passed, certificate.to_json()
    assert {c.store for c in certificate.checks} >= {
        "key store",
        "event store",
        "blind index",
        "caseworker read models",
    }
    assert '"alg": "Ed25519"' in certificate.to_json()


def test_quarantine_gets_a_new_key_if_this_months_was_destroyed(
    settings: Settings, app: App
) -> None:
    cipher = QuarantineCipher(app.data_keys, retention_days=30)
    first = cipher.record(Reason("not_json", "", "not JSON"), b"one", None, "t", 0, 1, {})
    app.data_keys.destroy(UUID(first.key_id), reason="retention_reached")
    second = cipher.record(Reason("not_json", "", "not JSON"), b"two", None, "t", 0, 2, {})
    assert second.key_id != first.key_id
    assert cipher.original(second) == (b"two", None)


def test_shredding_erases_the_childs_quarantined_messages() -> None:
    from contextlib import nullcontext

    from tests.factories import in_memory_app
    from tests.intake_support import IntakeHarness

    harness = IntakeHarness(in_memory_app(), seed=61)
    child = harness.traffic.new_child()
    good = harness.traffic.new_pupil_registered(child)
    bad = harness.traffic.new_pupil_registered(child)
    bad["sender"] = good["sender"]  # the same sender's reference for the same child
    bad["payload"]["on_roll_from"] = "not a date"
    stranger = harness.traffic.new_pupil_registered(harness.traffic.new_child())
    stranger["payload"]["on_roll_from"] = "not a date either"
    harness.run([harness.seal(good)])
    harness.run([harness.seal_unchecked(bad), harness.seal_unchecked(stranger)])
    assert len(harness.quarantine.records) == 2
    child_id = harness.app.find_child_by_sender_ref(f"{good['sender']}|{child['ref']}")
    assert child_id is not None
    mine = [
        qid
        for qid, r in harness.quarantine.records.items()
        if r.subject_digest
        == harness.app.blind_index.sender_ref_entry(f"{good['sender']}|{child['ref']}")[1].hex()
    ]
    assert len(mine) == 1

    job = RetentionJob(harness.app, lambda: nullcontext(True), quarantine=harness.quarantine)
    assert job.shred_now(child_id, ShredReason.ERASURE_APPROVED)

    assert list(harness.quarantine.records) != mine  # the stranger's message stays
    assert mine[0] not in harness.quarantine.records
    assert len(harness.quarantine.records) == 1
    shredded = [
        e for e in harness.app.events.get(child_id) if type(e).__name__ == "PersonalDataShredded"
    ]
    assert shredded[0].quarantine_erased == mine  # type: ignore[attr-defined]


def test_shred_due_as_of_a_later_day_only_previews_unless_confirmed(
    settings: Settings,
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A later --today would destroy children not yet 25 for good: a preview, unless asked."""
    from cme.cli import main

    child_id = register(app, date(2002, 1, 15))  # 25 on 2027-01-15, after today
    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(settings.data_dir))
    county = SyntheticCounty(seed=7)  # one county: no UPN twice
    others = [
        app.register_child(RegisterChild.of(county.register_child(date_of_birth="2002-01-10")))
        for _ in range(60)
    ]
    assert main(["shred", "due", "--today", "2027-01-15", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "dry run: as of 2027-01-15, 61 child(ren) not yet 25 would be shredded" in err
    listed = json.loads(out)[0]
    assert listed["total"] == 61  # every one, not the first 50
    assert {row["child_id"] for row in listed["rows"]} == {str(c) for c in [child_id, *others]}
    assert "--confirm-early" in err
    assert not app.get_child(child_id).is_shredded
    assert app.data_keys.store.get_many([child_id])  # the key is still there
    # Confirming needs a name: who brought the date forward is recorded.
    assert main(["shred", "due", "--today", "2027-01-15", "--confirm-early"]) == 2
    assert "--confirm-early needs --actor" in capsys.readouterr().err
    assert not app.get_child(child_id).is_shredded
    confirm = ["--confirm-early", "--actor", "staff:dpo-1"]
    assert main(["shred", "due", "--today", "2027-01-15", *confirm]) == 0
    assert "shredded 61 child(ren)" in capsys.readouterr().out
    assert app.get_child(child_id).is_shredded
    shredded = [e for e in app.events.get(child_id) if type(e).__name__ == "PersonalDataShredded"]
    assert shredded[0].reason == "retention_brought_forward"  # type: ignore[attr-defined]
    assert shredded[0].actor == "staff:dpo-1"  # type: ignore[attr-defined]


def test_no_certificate_for_a_child_never_held(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cme.cli import main

    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(settings.data_dir))
    stranger = uuid4()
    assert main(["shred", "verify", str(stranger)]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no certificate at all
    errors = [line for line in err.splitlines() if not line.startswith("note:")]
    assert errors == [f"refused (not_found): Child {stranger} not found"]


def test_a_history_with_a_reduced_timetable_is_json(app: App) -> None:
    """Its hours are a Decimal: the history must still print, since the read is recorded."""
    import json

    from application.audit import history
    from domain.commands import NotifyReducedTimetable

    child_id = register(app, date(2015, 3, 3))
    app.notify_reduced_timetable(
        NotifyReducedTimetable.of(
            {
                "actor": "mis:1",
                "child_id": child_id,
                "school_urn": "117001",
                "hours_per_week": "12.5",
                "starts_on": "2026-11-01",
                "review_on": "2026-12-01",
            }
        )
    )
    text = json.dumps(history(app, child_id, "auditor:1", "statutory_audit"))
    assert '"hours_per_week": "12.5"' in text  # the exact value, as text, not a float


def test_a_resumed_early_shred_still_records_who_confirmed_it(settings: Settings, app: App) -> None:
    """A confirmed early run that stops after destroying keys is finished by the next run;
    that run once recorded the job as the actor, losing the officer who confirmed."""
    child_id = register(app, date(2002, 1, 15))  # 25 on 2027-01-15, after today
    job = build_retention_job(settings, app)
    recorded = app.record_personal_data_shredded

    def crash(*args: object, **kwargs: object) -> None:
        msg = "the process died after the keys were destroyed"
        raise RuntimeError(msg)

    app.record_personal_data_shredded = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        job.run(date(2027, 1, 15), brought_forward_by="staff:dpo-1")
    app.record_personal_data_shredded = recorded  # type: ignore[method-assign]
    assert build_retention_job(settings, app).run().finished == [child_id]
    (shredded,) = [
        e for e in app.events.get(child_id) if type(e).__name__ == "PersonalDataShredded"
    ]
    assert shredded.reason == "retention_brought_forward"  # type: ignore[attr-defined]
    assert shredded.actor == "staff:dpo-1"  # type: ignore[attr-defined]


def test_a_full_batch_of_held_children_does_not_hide_the_rest(app: App) -> None:
    """Held children stay due; a batch of only them once ended the run, shredding nobody after."""
    from contextlib import nullcontext

    held = [register(app, date(2002, 1, day)) for day in (10, 11, 12)]  # due first
    free = register(app, date(2002, 1, 13))
    for child_id in held:
        app.place_legal_hold(
            PlaceLegalHold.of(
                {
                    "actor": "legal:1",
                    "child_id": child_id,
                    "hold_id": uuid4(),
                    "reason": "Inquiry order suspends destruction",
                    "authority": "Synthetic Inquiry 2026/3",
                }
            )
        )
    job = RetentionJob(app, lambda: nullcontext(True), batch=2)
    report = job.run(today=date(2027, 2, 1))
    assert sorted(report.deferred) == sorted(held)
    assert report.shredded == [free]
