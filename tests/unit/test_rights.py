"""Subject access package and the statutory clock list, on the embedded stores."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from application.erasure import decide
from application.rectification import UnknownDetailError, correction, rectify
from application.statutory_clock import overdue
from application.subject_access import access_package
from cme.bootstrap import App, build_retention_job
from cme.cli.rights import markdown
from cme.settings import Settings
from devtools.synthetic import SyntheticCounty
from domain.commands import (
    ApproveDisclosure,
    ChangeAddress,
    DecideRequest,
    MakeDisclosure,
    OpenCase,
    PlaceLegalHold,
    ReceiveRightsRequest,
    RegisterChild,
    RequestDisclosure,
    VerifyIdentity,
)
from domain.errors import (
    DateBeforeBirthError,
    DestructionDateUnconfirmedError,
    InvalidCommandError,
    RequestStateError,
)
from domain.values import LawfulBasis, RefusalReason, RequestDecision
from projections.ledger import ledger_entry
from tests.factories import TODAY, nurse_disclosure


def _disclose(app: App, child_id: UUID, agency: str, categories: list[str]) -> bool:
    outcome = app.make_disclosure(
        MakeDisclosure.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "recipient_agency": agency,
                "recipient_organisation": f"Synthetic {agency}",
                "purpose": "locate_child",
                "lawful_basis": LawfulBasis.PUBLIC_TASK_S436A,
                "categories": categories,
                "requested_by": "cw:1",
                "approved_by": "mgr:1",
                "disclosed_on": TODAY,
            }
        )
    )
    return outcome.made


def _request(app: App, child_id: UUID, kind: str, verified: bool = True) -> UUID:
    request_id = app.receive_rights_request(
        ReceiveRightsRequest.of(
            {
                "actor": "dpo:1",
                "child_id": child_id,
                "request_type": kind,
                "received_on": TODAY,
                "requester_name": "Synthetic Parent",
            }
        )
    )
    if verified:
        app.verify_identity(
            VerifyIdentity.of({"actor": "dpo:1", "request_id": request_id, "verified_on": TODAY})
        )
    return request_id


def test_the_access_package_lists_every_value_and_every_recipient(app: App) -> None:
    command = SyntheticCounty(seed=31).register_child()
    child_id = app.register_child(RegisterChild.of(command))
    case_id = app.open_case(
        OpenCase.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "source": "member_of_public",
                "reason": "never_registered",
                "referred_on": TODAY,
                "referrer_name": "Synthetic Neighbour",
            }
        )
    )
    for agency, basis in (
        ("police", LawfulBasis.SAFEGUARDING),
        ("gp", LawfulBasis.PUBLIC_TASK_S436A),
    ):
        app.make_disclosure(
            MakeDisclosure.of(
                {
                    "actor": "cw:1",
                    "child_id": child_id,
                    "case_id": case_id,
                    "recipient_agency": agency,
                    "recipient_organisation": f"Synthetic {agency}",
                    "purpose": "locate_child",
                    "lawful_basis": basis,
                    "categories": ["names"],
                    "requested_by": "cw:1",
                    "approved_by": "mgr:1",
                    "disclosed_on": TODAY,
                }
            )
        )
    package = access_package(app, child_id, actor="dpo:1")
    assert package["personal_data"]["legal_surname"] == command["details"]["legal_surname"]
    assert {r["recipient_agency"] for r in package["recipients"]} == {"police", "gp"}
    assert package["retention"]["kept_until"] is not None
    # Other people's details are set aside for review, not silently released.
    who = {t["who"] for t in package["third_party_data_for_review"]}
    assert who == {"carer", "referrer"}
    # ...and only there: not in the child's details, nor in any event of the history.
    carer = command["details"]["carers"][0]["name"]
    held = package["third_party_data_for_review"]
    outside = json.dumps({k: v for k, v in package.items() if k != "third_party_data_for_review"})
    assert carer not in outside and "Synthetic Neighbour" not in outside
    assert carer in json.dumps(held) and "Synthetic Neighbour" in json.dumps(held)
    assert len(package["rights"]) == 8
    json.dumps(package)  # machine-readable (portability)
    text = markdown(package)
    assert "Synthetic police" in text
    # The Markdown has every section the JSON has, other people's data only in the last.
    for section in ("Why it is held", "What was recorded, and when", "Where it came from"):
        assert f"## {section}" in text
    before_review, review = text.split("## For review before release", 1)
    assert carer not in before_review and "Synthetic Neighbour" not in before_review
    assert carer in review and "Synthetic Neighbour" in review
    # Producing the package is itself recorded, and becomes a ledger entry.
    read = app.reads_of(child_id)
    assert len(read) == 1
    entry = ledger_entry("domain.access_log:AccessLog.PersonalDataRead", read[0])
    assert entry is not None and entry["purpose"] == "subject_access_request"


def test_overdue_lists_late_and_nearly_due_requests(app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=32).register_child()))

    def request(received: str) -> object:
        return app.receive_rights_request(
            ReceiveRightsRequest.of(
                {
                    "actor": "dpo:1",
                    "child_id": child_id,
                    "request_type": "access",
                    "received_on": received,
                    "requester_name": "Synthetic Parent",
                }
            )
        )

    late = request("2026-10-01")
    soon = request("2026-11-05")
    request("2026-11-29")  # due 29 December: not listed
    rows = overdue(app, TODAY)
    assert [r["request_id"] for r in rows] == [str(late), str(soon)]
    assert rows[0]["days_left"] < 0 <= rows[1]["days_left"] <= 7


def test_rectification_names_the_recipients_of_the_old_value(app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=33).register_child()))
    _disclose(app, child_id, "police", ["names", "date_of_birth"])
    _disclose(app, child_id, "housing", ["address"])
    notice = rectify(app, correction(app, child_id, {"legal_surname": "Corrected"}, "dpo:1"))
    assert notice["changed"] == ["legal_surname"]
    assert notice["categories"] == ["names"]
    assert [r["recipient_agency"] for r in notice["tell_recipients"]] == ["police"]
    assert notice["tell_recipients"][0]["categories"] == ["names"]
    assert app.get_child(child_id).current_details().legal_surname == "Corrected"
    new_address = {"address": {"line1": "1 Synthetic Row", "town": "Testham"}}
    address = rectify(app, correction(app, child_id, new_address, "dpo:1"))
    assert [r["recipient_agency"] for r in address["tell_recipients"]] == ["housing"]
    again = correction(app, child_id, {"legal_surname": "Corrected"}, "dpo:1")
    assert rectify(app, again)["changed"] == []


def test_a_disclosure_made_on_approval_counts_for_rectification_and_access(app: App) -> None:
    """Approved through the two-person workflow, it was sent out: its recipient must be told."""
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=36).register_child()))
    requested = app.request_disclosure(RequestDisclosure.of(nurse_disclosure(child_id)))
    new_address = {"address": {"line1": "2 Synthetic Row", "town": "Testham"}}
    before = rectify(app, correction(app, child_id, new_address, "dpo:1"))
    assert before["tell_recipients"] == []  # only requested: nothing was sent yet
    app.approve_disclosure(
        ApproveDisclosure.of(
            {"actor": "mgr:1", "disclosure_id": requested.disclosure_id, "approved_on": TODAY}
        )
    )
    moved = {"address": {"line1": "3 Synthetic Row", "town": "Testham"}}
    after = rectify(app, correction(app, child_id, moved, "dpo:1"))
    assert [r["recipient_agency"] for r in after["tell_recipients"]] == ["school_nursing"]
    recipients = access_package(app, child_id, "dpo:1")["recipients"]
    assert [(r["recipient_agency"], r["approved_by"]) for r in recipients] == [
        ("school_nursing", "mgr:1")
    ]


def test_once_erasure_is_granted_nothing_of_the_child_goes_out(app: App) -> None:
    """Granted, but not shredded until the next retention run: disclosures are refused."""
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=37).register_child()))
    request_id = _request(app, child_id, "erasure")
    decide(app, None, request_id, RequestDecision.FULFILLED, None, "dpo:1")
    assert not app.get_child(child_id).is_shredded  # the retention worker's job
    assert app.get_child(child_id).erasure_granted_by == request_id
    asked = app.request_disclosure(
        RequestDisclosure.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "recipient_agency": "police",
                "recipient_organisation": "Synthetic Constabulary",
                "purpose": "safeguarding",
                "lawful_basis": LawfulBasis.SAFEGUARDING,  # overrides a restriction, not this
                "categories": ["address"],
                "necessity": "Officers need the address to check on the child today",
                "requested_on": TODAY,
            }
        )
    )
    assert asked.refusal_reason is RefusalReason.ERASURE_GRANTED


def test_an_erasure_request_restricts_processing_meanwhile_when_asked(app: App) -> None:
    """The privacy notice: "request that we stop using your data while we consider a request
    to have it corrected or deleted"; a correction restricted, a deletion never could."""
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=39).register_child()))
    asked = {
        "actor": "dpo:1",
        "child_id": child_id,
        "request_type": "erasure",
        "received_on": TODAY,
        "requester_name": "Synthetic Parent",
        "restrict_meanwhile": True,
    }
    request_id = app.receive_rights_request(ReceiveRightsRequest.of(asked))
    assert app.get_child(child_id).is_restricted
    app.verify_identity(
        VerifyIdentity.of({"actor": "dpo:1", "request_id": request_id, "verified_on": TODAY})
    )
    decide(app, None, request_id, RequestDecision.REFUSED, "Needed for an open case", "dpo:1")
    assert not app.get_child(child_id).is_restricted  # refused: the consideration is over
    with pytest.raises(InvalidCommandError, match="restrict_meanwhile"):
        ReceiveRightsRequest.of({**asked, "request_type": "access"})


@pytest.mark.parametrize(
    ("born", "says"),
    [
        ("2030-01-01", "in the future"),
        ("9999-12-31", "in the future"),
        ("1915-07-07", "25 or older"),  # a slip of a century: the next run would shred
    ],
)
def test_a_corrected_date_of_birth_is_held_to_the_registration_rules(
    app: App, born: str, says: str
) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=38).register_child()))
    with pytest.raises(InvalidCommandError, match=says):
        rectify(app, correction(app, child_id, {"date_of_birth": born}, "dpo:1"))
    assert str(app.get_child(child_id).current_details().date_of_birth) != born


def test_a_history_read_right_after_another_process_shredded_opens_nothing(
    app: App, settings: Settings
) -> None:
    """This process still holds the key in its cache; the store says shredded: nothing opens."""
    import subprocess
    import sys

    from application.audit import history
    from cme.settings import PROJECT_ROOT

    command = SyntheticCounty(seed=39).register_child()
    child_id = app.register_child(RegisterChild.of(command))
    surname = command["details"]["legal_surname"]
    assert surname in json.dumps(history(app, child_id, "auditor:1", "statutory_audit"))
    # The retention job, in a process of its own: this one's key cache is not told.
    shred = (
        "import sys, uuid\n"
        "from cme.bootstrap import build_application\n"
        "from cme.settings import load_settings\n"
        "from domain.values import ShredReason\n"
        "app = build_application(load_settings(mode='embedded', data_dir=sys.argv[1]))\n"
        "child = uuid.UUID(sys.argv[2])\n"
        "app.data_keys.destroy(child, reason=ShredReason.RETENTION_REACHED.value)\n"
        "app.record_personal_data_shredded(child, ShredReason.RETENTION_REACHED, 'job:r')\n"
        "app.close()\n"
    )
    subprocess.run(
        [sys.executable, "-c", shred, str(settings.data_dir), str(child_id)],
        cwd=PROJECT_ROOT,
        check=True,
        timeout=60,
    )
    rows = history(app, child_id, "auditor:1", "statutory_audit")
    assert surname not in json.dumps(rows)


def test_correcting_one_flag_or_the_postcode_keeps_the_rest(app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=40).register_child()))
    both = {"flags": {"looked_after": True, "known_to_social_care": True}}
    rectify(app, correction(app, child_id, both, "dpo:1"))
    rectify(app, correction(app, child_id, {"flags": {"ehcp": True}}, "dpo:1"))
    details = app.get_child(child_id).current_details()
    assert (details.flags.looked_after, details.flags.known_to_social_care) == (True, True)
    assert details.flags.ehcp is True
    town = details.address.town if details.address else None
    rectify(app, correction(app, child_id, {"address": {"postcode": "ZZ9 9ZZ"}}, "dpo:1"))
    moved = app.get_child(child_id).current_details().address
    assert moved is not None
    assert (moved.postcode, moved.town) == ("ZZ9 9ZZ", town)


def test_rectifying_an_unknown_detail_is_refused_by_name(app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=34).register_child()))
    with pytest.raises(UnknownDetailError, match="no such detail surname"):
        correction(app, child_id, {"surname": "X"}, actor="dpo:1")


def test_every_detail_belongs_to_a_disclosable_category() -> None:
    from domain.personal import CATEGORIES_OF_DETAIL, ChildDetails

    assert set(CATEGORIES_OF_DETAIL) == set(ChildDetails.model_fields)


@pytest.mark.parametrize("kind", ["objection", "rectification", "restriction"])
def test_disclosures_are_refused_while_a_request_is_considered(app: App, kind: str) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=35).register_child()))
    request_id = _request(app, child_id, kind)
    outcome = app.make_disclosure(
        MakeDisclosure.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "recipient_agency": "gp",
                "recipient_organisation": "Synthetic gp",
                "purpose": "locate_child",
                "lawful_basis": LawfulBasis.PUBLIC_TASK_S436A,
                "categories": ["names"],
                "requested_by": "cw:1",
                "approved_by": "mgr:1",
                "disclosed_on": TODAY,
            }
        )
    )
    assert outcome.refusal_reason is RefusalReason.PROCESSING_RESTRICTED
    app.decide_request(
        DecideRequest.of(
            {
                "actor": "dpo:1",
                "request_id": request_id,
                "decision": "refused",
                "decided_on": TODAY,
                "explanation": "the record is accurate and the processing is a public task",
            }
        )
    )
    assert not app.get_child(child_id).is_restricted
    assert _disclose(app, child_id, "gp", ["names"])
    kinds = [type(e).__name__ for e in app.events.get(child_id)]
    assert kinds.count("ProcessingRestricted") == 1
    assert kinds.count("RestrictionLifted") == 1


def test_an_upheld_objection_keeps_processing_restricted(app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=36).register_child()))
    request_id = _request(app, child_id, "objection")
    app.decide_request(
        DecideRequest.of(
            {
                "actor": "dpo:1",
                "request_id": request_id,
                "decision": "fulfilled",
                "decided_on": TODAY,
            }
        )
    )
    assert app.get_child(child_id).is_restricted
    assert not _disclose(app, child_id, "gp", ["names"])


def test_an_approved_erasure_shreds_now(settings: Settings, app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=37).register_child()))
    request_id = _request(app, child_id, "erasure")
    outcome = decide(
        app,
        build_retention_job(settings, app),
        request_id,
        RequestDecision.FULFILLED,
        None,
        "dpo:1",
    )
    assert outcome["shredded"] is True
    child = app.get_child(child_id)
    assert child.is_shredded and child.shred_reason == "erasure_approved"
    assert not app.data_keys.store.get_many([child_id])
    assert app.data_keys.store.tombstones([child_id])[child_id].reason == "erasure_approved"


def test_an_erasure_cannot_be_fulfilled_under_legal_hold(settings: Settings, app: App) -> None:
    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=38).register_child()))
    app.place_legal_hold(
        PlaceLegalHold.of(
            {
                "actor": "dpo:1",
                "child_id": child_id,
                "hold_id": uuid4(),
                "authority": "Synthetic Inquiry",
                "reason": "an order to keep every record",
            }
        )
    )
    request_id = _request(app, child_id, "erasure")
    job = build_retention_job(settings, app)
    with pytest.raises(RequestStateError, match="legal hold"):
        decide(app, job, request_id, RequestDecision.FULFILLED, None, "dpo:1")
    outcome = decide(
        app, job, request_id, RequestDecision.REFUSED, "an inquiry has ordered it kept", "dpo:1"
    )
    assert outcome["shredded"] is False
    assert not app.get_child(child_id).is_shredded


def test_replaying_the_read_models_as_of_an_instant(app: App, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cme.audit_tools import replay_projections
    from projections.store import SqliteReadModels

    command = SyntheticCounty(seed=39).register_child()
    child_id = app.register_child(RegisterChild.of(command))
    instant = datetime.now(UTC)
    app.change_address(
        ChangeAddress.of(
            {
                "actor": "cw:1",
                "child_id": child_id,
                "address": {"line1": "77 Replay Road", "town": "Ware", "postcode": "SG12 9ZZ"},
                "effective_from": TODAY,
                "source": "housing",
            }
        )
    )

    def line1(path: Path) -> object:
        store = SqliteReadModels(str(path))
        try:
            rows = [r for r in store.rows("children") if r["child_id"] == str(child_id)]
        finally:
            store.close()
        return rows[0]["address_line1"]

    then, now = tmp_path / "then.db", tmp_path / "now.db"
    events, children = replay_projections(app, instant, then, "auditor:1", "as-of check")
    assert (events, children) == (1, 1)
    assert line1(then) == command["details"]["address"]["line1"]
    replay_projections(app, datetime.now(UTC), now, "auditor:1", "as-of check")
    assert line1(now) == "77 Replay Road"
    assert then.stat().st_mode & 0o077 == 0  # personal values: the owner's eyes only
    assert len(app.reads_of(child_id)) == 2
    with pytest.raises(FileExistsError):
        replay_projections(app, instant, then, "auditor:1", "again")


def test_an_erasure_granted_while_a_retention_run_holds_the_lock_is_shredded_after(
    settings: Settings, app: App
) -> None:
    from crypto_shredding.locks import file_lock

    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=39).register_child()))
    request_id = _request(app, child_id, "erasure")
    job = build_retention_job(settings, app)
    # A retention run holds the lock while the DPO grants the erasure.
    with file_lock(settings.data_dir / "embedded" / "retention.lock") as held:
        assert held
        outcome = decide(app, job, request_id, RequestDecision.FULFILLED, None, "dpo:1")
    assert outcome["shredded"] is False
    assert app.get_rights_request(request_id).decision is RequestDecision.FULFILLED
    assert not app.get_child(child_id).is_shredded
    # Asked again, the same decision finishes the job instead of "already decided".
    again = decide(app, job, request_id, RequestDecision.FULFILLED, None, "dpo:1")
    assert again["shredded"] is True
    assert app.get_child(child_id).shred_reason == "erasure_approved"


def test_the_retention_run_sweeps_a_granted_erasure_left_unshredded(
    settings: Settings, app: App
) -> None:
    from crypto_shredding.locks import file_lock

    child_id = app.register_child(RegisterChild.of(SyntheticCounty(seed=40).register_child()))
    request_id = _request(app, child_id, "erasure")
    job = build_retention_job(settings, app)
    with file_lock(settings.data_dir / "embedded" / "retention.lock"):
        decide(app, job, request_id, RequestDecision.FULFILLED, None, "dpo:1")
    assert not app.get_child(child_id).is_shredded
    report = job.run(today=TODAY)
    assert report.shredded == [child_id]
    assert app.get_child(child_id).shred_reason == "erasure_approved"
    # Nothing more to sweep.
    assert job.run(today=TODAY).shredded == []


def test_a_date_of_birth_correction_that_moves_destruction_must_be_confirmed(app: App) -> None:
    """A mistyped year moved a key's expiry decades, silently: now shown, confirmed, recorded."""
    child_id = app.register_child(
        RegisterChild.of(SyntheticCounty(seed=40).register_child(date_of_birth="2012-05-06"))
    )
    command = correction(app, child_id, {"date_of_birth": "2013-05-06"}, "dpo:1")
    with pytest.raises(DestructionDateUnconfirmedError) as refused:
        rectify(app, command)
    assert "2037" not in str(refused.value) and "2038" not in str(refused.value)
    assert app.get_child(child_id).current_details().date_of_birth == date(2012, 5, 6)
    # A confirmation of another date is no confirmation.
    wrong = correction(
        app, child_id, {"date_of_birth": "2013-05-06"}, "dpo:1", None, date(2037, 5, 6)
    )
    with pytest.raises(DestructionDateUnconfirmedError):
        rectify(app, wrong)
    confirmed = correction(
        app, child_id, {"date_of_birth": "2013-05-06"}, "dpo:1", None, date(2038, 5, 6)
    )
    assert rectify(app, confirmed)["changed"] == ["date_of_birth"]
    (key,) = app.data_keys.store.get_many([child_id]).values()
    assert key.expires_on == date(2038, 5, 6)
    moved = [e for e in app.events.get(child_id) if type(e).__name__ == "DestructionDateMoved"]
    assert len(moved) == 1
    assert moved[0].actor == "dpo:1"  # type: ignore[attr-defined]
    entry = ledger_entry("domain.child:Child.DestructionDateMoved", moved[0])
    assert entry is not None
    assert entry["kind"] == "destruction_date_moved"
    assert "2038" not in json.dumps(entry, default=str)  # no date: it would give the birth away


def test_the_cli_shows_the_new_destruction_date_before_it_is_confirmed(
    app: App,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cme.cli import main

    monkeypatch.setenv("CME_MODE", "embedded")
    monkeypatch.setenv("CME_DATA_DIR", str(settings.data_dir))
    child_id = app.register_child(
        RegisterChild.of(SyntheticCounty(seed=41).register_child(date_of_birth="2012-05-06"))
    )
    rectify_cli = ["rights", "rectify", str(child_id), "--set", "date_of_birth=2013-05-06"]
    assert main([*rectify_cli, "--actor", "dpo:1"]) == 1
    out, err = capsys.readouterr()
    assert "from 2037-05-06 to 2038-05-06" in out
    assert "--confirm-destruction-date 2038-05-06" in err
    confirm = ["--confirm-destruction-date", "2038-05-06", "--actor", "dpo:1"]
    assert main([*rectify_cli, *confirm]) == 0
    assert '"date_of_birth"' in capsys.readouterr().out


def test_a_request_received_before_the_child_was_born_is_refused(app: App) -> None:
    """`--on 1900-01-01` was accepted, for good: the store is append-only."""
    child_id = app.register_child(
        RegisterChild.of(SyntheticCounty(seed=42).register_child(date_of_birth="2014-02-03"))
    )
    received = {
        "actor": "dpo:1",
        "child_id": child_id,
        "request_type": "access",
        "requester_name": "Synthetic Parent",
        "received_on": "2014-02-02",
    }
    with pytest.raises(DateBeforeBirthError, match="received_on is before the child was born"):
        app.receive_rights_request(ReceiveRightsRequest.of(received))
    assert app.receive_rights_request(
        ReceiveRightsRequest.of(received | {"received_on": "2014-02-03"})
    )
