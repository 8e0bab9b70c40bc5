"""The DPO's and the auditor's endpoints over real HTTP, real tokens, real PostgreSQL.

Each story is what the DPO or an auditor would do with their own tools: the
answers are read as they would read them, and the event store is checked
for who did what.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import date
from uuid import UUID

import pytest

from cme.bootstrap import App
from cme.db.roles import Role, role_url
from cme.secrets import ledger_public_key_text
from crypto_shredding.signing import CheckpointVerifier
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from projections.ledger import GENESIS, chain_hash, checkpoint_message
from projections.ledger_store import LedgerReader
from tests.conftest import Services
from tests.integration.test_api import Answer, Api, api  # noqa: F401 - the running API
from tests.integration.workers import WorkerEnvironment, wait_for
from tests.seeds import seed

TODAY = date.today().isoformat()


@pytest.fixture
def child_id(app: App, request: pytest.FixtureRequest) -> UUID:
    county = SyntheticCounty(seed=seed(f"{request.node.name}-dpo"))
    return app.register_child(c.RegisterChild.of(county.register_child()))


def _rights_request(api: Api, child_id: UUID, request_type: str) -> Answer:  # noqa: F811
    body = {
        "request_type": request_type,
        "received_on": TODAY,
        "requester_name": "Synthetic Parent",
        "details": "Please stop using my child's data while you check it",
    }
    return api.call("POST", f"/v1/children/{child_id}/rights-requests", "dpo.dee", body)


def test_a_restriction_request_is_worked_through_to_its_decision(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
) -> None:
    received = _rights_request(api, child_id, "restriction")
    assert received.status == 201, received.body
    request_id = received.body["request_id"]
    assert received.body["due_on"] > TODAY
    assert app.get_child(child_id).is_restricted  # restricted while it is considered
    path = f"/v1/rights-requests/{request_id}"

    etag = api.call("GET", path, as_user="dpo.dee").headers["etag"]
    verified = api.call("POST", f"{path}/verify-identity", "dpo.dee", {}, {"If-Match": etag})
    assert verified.status == 201, verified.body
    assert verified.body["identity_verified_on"] == TODAY
    stale = api.call("POST", f"{path}/verify-identity", "dpo.dee", {}, {"If-Match": etag})
    assert stale.status == 412

    no_reason = api.call("POST", f"{path}/stop-clock", "dpo.dee", {})
    assert no_reason.status == 422, no_reason.body
    assert no_reason.body["errors"][0]["field"] == "reason"
    too_long = api.call("POST", f"{path}/extend", "dpo.dee", {"months": 3, "reason": "Complex"})
    assert too_long.status == 422
    extended = api.call(
        "POST", f"{path}/extend", "dpo.dee", {"months": 2, "reason": "Complex request"}
    )
    assert extended.status == 201, extended.body
    assert extended.body["extension_months"] == 2

    early = api.call(
        "POST", f"/v1/children/{child_id}/lift-restriction", "dpo.dee", {"request_id": request_id}
    )  # the restriction stands while its request is considered
    assert early.status == 409, early.body
    assert early.body["errors"][0]["rule"] == "request_under_consideration"
    assert app.get_child(child_id).is_restricted
    decided = api.call(
        "POST",
        f"{path}/decide",
        "dpo.dee",
        {"decision": "refused", "explanation": "The data is accurate and needed"},
    )
    assert decided.status == 201, decided.body
    assert (decided.body["decision"], decided.body["shredded"]) == ("refused", False)
    assert not app.get_child(child_id).is_restricted  # refused: deciding lifted it
    again = api.call("POST", f"/v1/children/{child_id}/lift-restriction", "dpo.dee", {})
    assert again.status == 409, again.body
    assert again.body["errors"][0]["rule"] == "restriction_state"


def test_a_granted_erasure_is_left_to_the_retention_worker(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
) -> None:
    """The API cannot destroy keys: the decision is recorded, the data is still there."""
    request_id = _rights_request(api, child_id, "erasure").body["request_id"]
    path = f"/v1/rights-requests/{request_id}"
    unverified = api.call("POST", f"{path}/decide", "dpo.dee", {"decision": "fulfilled"})
    assert unverified.status == 409, unverified.body  # identity first
    assert api.call("POST", f"{path}/verify-identity", "dpo.dee", {}).status == 201
    decided = api.call(
        "POST", f"/v1/rights-requests/{request_id}/decide", "dpo.dee", {"decision": "fulfilled"}
    )
    assert decided.status == 201, decided.body
    assert decided.body["shredded"] is False
    assert app.get_rights_request(UUID(request_id)).grants()
    assert not app.get_child(child_id).is_shredded


def test_legal_holds_are_placed_and_released_as_the_dpo(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
) -> None:
    hold = {"reason": "Serious case review", "authority": "Synthetic Safeguarding Partnership"}
    placed = api.call("POST", f"/v1/children/{child_id}/legal-holds", "dpo.dee", hold)
    assert placed.status == 201, placed.body
    assert app.get_child(child_id).legal_holds
    hold_id = placed.body["hold_id"]
    path = f"/v1/children/{child_id}/legal-holds/{hold_id}/release"
    released = api.call("POST", path, "dpo.dee", {})
    assert released.status == 201, released.body
    assert not app.get_child(child_id).legal_holds
    again = api.call("POST", path, "dpo.dee", {})
    assert again.status == 409, again.body


def test_every_read_is_in_the_access_log_and_the_package_is_one_more(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
) -> None:
    app.open_case(
        c.OpenCase.of(
            {
                "actor": "system:test",
                "child_id": child_id,
                "source": "school",
                "reason": "removed_from_roll_whereabouts_unknown",
                "referred_on": TODAY,
            }
        )
    )
    log = f"/v1/children/{child_id}/access-log"
    assert api.call("GET", log, as_user="dpo.dee").body == []
    package = api.call("GET", f"/v1/children/{child_id}/access-package", as_user="dpo.dee")
    assert package.status == 200, package.body
    assert package.body["child_id"] == str(child_id)
    assert package.body["history"], "the package holds the child's history"
    reads = api.call("GET", log, as_user="dpo.dee").body
    assert [read["purpose"] for read in reads] == ["subject_access_request"]
    assert reads[0]["actor"].startswith("staff:")


def test_a_correction_names_its_recipients_and_never_an_unknown_field(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
) -> None:
    path = f"/v1/children/{child_id}/rectification"
    unknown = api.call("POST", path, "dpo.dee", {"corrections": {"zoe_quillfeather": "x"}})
    assert unknown.status == 422, unknown.body
    assert "quillfeather" not in json.dumps(unknown.body)
    fixed = api.call("POST", path, "dpo.dee", {"corrections": {"preferred_name": "Sam"}})
    assert fixed.status == 201, fixed.body
    assert fixed.body["changed"] == ["preferred_name"]
    assert app.get_child(child_id).current_details().preferred_name == "Sam"


@pytest.fixture
def chained(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
    workers: WorkerEnvironment,
    services: Services,
) -> UUID:
    """A disclosure requested through the API, and the ledger writer caught up past it."""
    running = workers.start("ledger")
    body = {
        "recipient_agency": "police",
        "recipient_organisation": "Synthetic Constabulary",
        "purpose": "locate_child",
        "lawful_basis": "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime",
        "categories": ["address"],
        "necessity": "Officers need the last known address to find the child today",
        "requested_on": TODAY,
    }
    path = f"/v1/children/{child_id}/disclosure-requests"
    assert api.call("POST", path, "officer.ada", body).status == 201
    last = app.recorder.max_notification_id() or 0
    ledger = LedgerReader(role_url(services.settings, Role.AUDITOR))
    wait_for(lambda: ledger.position() >= last, 90, "the ledger writer", workers.logs)
    assert workers.stop(running) == 0, workers.logs()
    return child_id


def test_the_auditor_verifies_the_ledger_and_reads_its_figures(
    api: Api,  # noqa: F811
    chained: UUID,
) -> None:
    checked = api.call("GET", "/v1/audit/ledger", as_user="auditor.eli")
    assert checked.status == 200, checked.body
    assert checked.body["ok"] is True, checked.body["problems"]
    assert checked.body["entries"] > 0
    assert checked.body["checkpoints"] > 0
    assert (checked.body["parked"], checked.body["unsigned_tail"]) == (0, 0)
    report = api.call("GET", "/v1/audit/report", as_user="auditor.eli")
    assert report.status == 200, report.body
    assert "disclosures_by_agency" in report.body


def test_the_dpo_proves_a_childs_disclosure_request_is_in_the_signed_ledger(
    api: Api,  # noqa: F811
    chained: UUID,
    services: Services,
) -> None:
    """The entry about the child, and a path to the signed root: nobody else's entry."""
    from cme.audit_proof import check_proof

    entries = LedgerReader(role_url(services.settings, Role.AUDITOR)).documents()
    seq = next(
        n
        for n, e in enumerate(entries, start=1)
        if e["kind"] == "disclosure_requested" and e["child_id"] == str(chained)
    )
    proof = api.call("GET", f"/v1/audit/ledger/entries/{seq}/proof", as_user="dpo.dee")
    assert proof.status == 200, proof.body
    verifier = CheckpointVerifier.from_text(ledger_public_key_text(services.settings))
    entry = check_proof(proof.body, verifier)
    assert (entry["kind"], entry["child_id"]) == ("disclosure_requested", str(chained))
    others = [json.dumps(e, sort_keys=True, separators=(",", ":")) for e in entries]
    assert sum(other in json.dumps(proof.body) for other in others) <= 1
    missing = api.call(
        "GET", f"/v1/audit/ledger/entries/{len(entries) + 1000}/proof", as_user="auditor.eli"
    )
    assert missing.status == 404, missing.body
    assert missing.body["errors"][0]["rule"] == "not_in_ledger"
    for loose in ("0", "1_0", "+5", "1.0", "%201"):
        path = f"/v1/audit/ledger/entries/{loose}/proof"
        assert api.call("GET", path, as_user="dpo.dee").status == 422, loose


def test_a_history_or_replay_names_its_purpose_and_is_recorded(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
) -> None:
    path = f"/v1/audit/children/{child_id}/history"
    assert api.call("GET", path, as_user="auditor.eli").status == 422  # no purpose given
    rows = api.call("GET", f"{path}?purpose=statutory_audit", as_user="auditor.eli")
    assert rows.status == 200, rows.body
    assert rows.body[0]["what"] == "Child.Registered"
    naive = api.call(
        "GET",
        f"/v1/audit/replay/{child_id}?as_of=2030-01-01T00:00:00&purpose=statutory_audit",
        as_user="auditor.eli",
    )
    assert naive.status == 422, naive.body
    state = api.call(
        "GET",
        f"/v1/audit/replay/{child_id}?as_of=2030-01-01T00:00:00%2B00:00&purpose=statutory_audit",
        as_user="auditor.eli",
    )
    assert state.status == 200, state.body
    reads = api.call("GET", f"/v1/children/{child_id}/access-log", as_user="dpo.dee").body
    assert [read["purpose"] for read in reads] == ["statutory_audit", "statutory_audit"]
    free_text = api.call("GET", f"{path}?purpose=Asking%20about%20Zoe", as_user="auditor.eli")
    assert free_text.status == 422, free_text.body  # never free text: it is kept in clear


def test_the_export_is_json_lines_an_outsider_can_verify(
    api: Api,  # noqa: F811
    chained: UUID,
    services: Services,
) -> None:
    """Every entry chained from the one before, the last checkpoint signed over the head."""
    token = api.token("auditor.eli")
    request = urllib.request.Request(  # noqa: S310 - the local API
        f"{api.url}/v1/audit/export", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.read().splitlines()]
    entries = [line for line in lines if line["type"] == "entry"]
    checkpoints = [line for line in lines if line["type"] == "checkpoint"]
    assert entries and checkpoints
    head = GENESIS
    for entry in entries:
        assert entry["prev_hash"] == head
        head = chain_hash(head, entry["entry"].encode())
        assert entry["entry_hash"] == head
    last = checkpoints[-1]
    assert last["seq"] == entries[-1]["seq"]
    assert last["head_hash"] == head
    verifier = CheckpointVerifier.from_text(ledger_public_key_text(services.settings))
    message = checkpoint_message(
        last["seq"], last["head_hash"], last["prev_link"], last["tree_root"]
    )
    assert verifier.valid(last["key_id"], message, bytes.fromhex(last["signature"]))


def test_a_step_is_refused_when_it_would_misfile_or_misdate_the_record(
    api: Api,  # noqa: F811
    app: App,
    child_id: UUID,
    request: pytest.FixtureRequest,
) -> None:
    """Another child's request, a reused key on another step, a date ahead, a stray field."""
    other = app.register_child(
        c.RegisterChild.of(SyntheticCounty(seed=seed(f"{request.node.name}-b")).register_child())
    )
    theirs = _rights_request(api, other, "restriction").body["request_id"]
    _rights_request(api, child_id, "objection")  # restricts this child too
    lift = f"/v1/children/{child_id}/lift-restriction"
    misfiled = api.call("POST", lift, "dpo.dee", {"request_id": theirs})
    assert misfiled.status == 409, misfiled.body
    assert misfiled.body["errors"][0]["rule"] == "request_of_another_child"
    not_a_request = api.call("POST", lift, "dpo.dee", {"request_id": str(child_id)})
    assert not_a_request.status == 404, not_a_request.body
    fixed = f"/v1/children/{child_id}/rectification"
    wrong = {"corrections": {"preferred_name": "Sam"}, "request_id": theirs}
    assert api.call("POST", fixed, "dpo.dee", wrong).status == 409
    assert app.get_child(child_id).is_restricted  # nothing was lifted

    mine = _rights_request(api, child_id, "access").body["request_id"]
    path = f"/v1/rights-requests/{mine}"
    key = {"Idempotency-Key": f"same-key-{mine}"}
    assert api.call("POST", f"{path}/verify-identity", "dpo.dee", {}, key).status == 201
    reused = api.call("POST", f"{path}/close", "dpo.dee", {}, key)
    assert reused.status == 422, reused.body
    assert reused.body["errors"][0]["field"] == "Idempotency-Key"

    ahead = api.call("POST", f"{path}/close", "dpo.dee", {"on": "2099-01-01"})
    assert ahead.status == 422, ahead.body
    assert ahead.body["errors"][0]["field"] == "closed_on"
    stray = api.call(
        "POST", f"{path}/extend", "dpo.dee", {"on": TODAY, "months": 1, "reason": "Complex"}
    )
    assert stray.status == 422, stray.body
    assert stray.body["errors"][0]["field"] == "on"
    truthy = api.call("POST", f"{path}/extend", "dpo.dee", {"months": True, "reason": "Complex"})
    assert truthy.status == 422, truthy.body
    assert app.get_rights_request(UUID(mine)).closed_on is None


def test_an_export_from_any_offset_python_accepts_is_answered_in_full(
    api: Api,  # noqa: F811
    chained: UUID,
) -> None:
    """PostgreSQL refuses offsets past ±15:59: `+16:00` was a 200 with an empty body."""
    every = api.call("GET", "/v1/audit/export", as_user="auditor.eli")
    assert every.status == 200
    # 2000-01-01T16:00+16:00 is midnight UTC: every entry is later.
    far = api.call(
        "GET", "/v1/audit/export?start=2000-01-01T16:00:00%2B16:00", as_user="auditor.eli"
    )
    assert far.status == 200
    assert far.body == every.body
    assert any(line["type"] == "entry" for line in far.body)
