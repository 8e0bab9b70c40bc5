"""The API over real HTTP: uvicorn in its own process, tokens from the real Keycloak, PostgreSQL.

Each request is what a caseworker tool would send; the answers are checked
as such a tool would read them (status, ETag, problem documents), and the
event store is checked for who did what.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from cme.bootstrap import App
from cme.db.roles import Role, role_url
from cme.identity import TokenVerifier
from cme.idp_realm import CLIENT
from cme.settings import PROJECT_ROOT
from devtools.services.keycloak import LocalKeycloak
from devtools.synthetic import SyntheticCounty
from domain import commands as c
from domain.case import Case
from projections.ledger import BY_EVENT as LEDGER
from projections.ledger_store import LedgerReader
from tests.conftest import Services
from tests.integration.test_identity_provider import token_for
from tests.integration.workers import WorkerEnvironment, wait_for
from tests.seeds import seed


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Api:
    url: str
    keycloak: LocalKeycloak

    def token(self, username: str) -> str:
        return token_for(self.keycloak, username)

    def call(
        self,
        method: str,
        path: str,
        as_user: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; a POST gets a fresh Idempotency-Key unless ``headers`` gives one."""
        sent = dict(headers or {})
        if method == "POST":
            sent.setdefault("Idempotency-Key", f"test-{uuid4()}")
            if path.startswith(("/v1/cases/", "/v1/disclosures/", "/v1/rights-requests/")):
                sent.setdefault("If-Match", "*")
        if as_user is not None:
            sent["Authorization"] = f"Bearer {self.token(as_user)}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - the local API
            f"{self.url}{path}", data=data, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return Answer(response.status, dict(response.headers), _parsed(response))
        except urllib.error.HTTPError as refused:
            with refused:
                return Answer(refused.code, dict(refused.headers), _parsed(refused))

    def send(
        self, path: str, as_user: str, chunks: Iterable[bytes], headers: dict[str, str]
    ) -> Answer:
        """A POST of raw bytes, streamed in chunks (no Content-Length), as a hostile client may."""
        host, port = self.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            sent = {
                "Authorization": f"Bearer {self.token(as_user)}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"test-{uuid4()}",
                **headers,
            }
            connection.request("POST", path, body=iter(chunks), headers=sent, encode_chunked=True)
            response = connection.getresponse()
            return Answer(response.status, dict(response.headers), json.loads(response.read()))
        finally:
            connection.close()


def _parsed(response: Any) -> Any:
    """JSON, or JSON Lines (the ledger export) as a list."""
    raw = response.read()
    if response.headers.get("content-type") == "application/x-ndjson":
        return [json.loads(line) for line in raw.splitlines()]
    return json.loads(raw)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def api(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    assert services.keycloak is not None, "start the identity provider: `scripts/services up`"
    port = _free_port()
    log = tmp_path_factory.mktemp("api") / "api.log"
    env = {**os.environ, "CME_MODE": "services", "CME_OIDC_ISSUER": services.keycloak.issuer}
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cme.cli", "serve", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Api(f"http://127.0.0.1:{port}", services.keycloak)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{running.url}/openapi.json", timeout=2):  # noqa: S310
                return True
        except OSError:
            return False

    try:
        wait_for(answers, 60, "the API", lambda: log.read_text(errors="replace"))
        yield running
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def case_id(app: App, request: pytest.FixtureRequest) -> UUID:
    county = SyntheticCounty(seed=seed(request.node.name))
    child_id = app.register_child(c.RegisterChild.of(county.register_child()))
    return app.open_case(
        c.OpenCase(
            actor="system:test",
            child_id=child_id,
            source="school",
            reason="removed_from_roll_whereabouts_unknown",
            referred_on=date.today(),
        )
    )


INFORMATION = {
    "source_agency": "school_nursing",
    "source_organisation": "Synthetic School Nursing Team",
    "categories": ["health_sen", "whereabouts"],
    "received_on": date.today().isoformat(),
    "content": "Seen at a clinic in another county last month",
}
DECISION = {
    "decision": "refer-to-education-welfare",
    "reason": "Sixty days of absence without a known school place",
    "automated": True,
    "rule_id": "rule:absence-60-days",
}
DISCLOSURE = {
    "recipient_agency": "police",
    "recipient_organisation": "Synthetic Constabulary",
    "purpose": "locate_child",
    "lawful_basis": "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime",
    "categories": ["address", "names"],
    "necessity": "Officers need the last known address to find the child today",
    "requested_on": date.today().isoformat(),
}
ENQUIRY = {
    "made_on": date.today().isoformat(),
    "agency": "school",
    "method": "phone",
    "outcome": "not_known_to_agency",
}


def test_every_endpoint_wants_a_token_and_answers_in_problem_json(api: Api) -> None:
    for method, path in [("GET", "/v1/cases"), ("POST", f"/v1/cases/{uuid4()}/enquiries")]:
        answer = api.call(method, path, body=ENQUIRY if method == "POST" else None)
        assert answer.status == 401, (method, path, answer.body)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"
    forged = {"Authorization": "Bearer not.a.token"}
    assert api.call("GET", "/v1/cases", headers=forged).status == 401


def test_a_role_without_the_right_is_refused(api: Api, case_id: UUID) -> None:
    assert api.call("GET", "/v1/cases", as_user="auditor.eli").status == 403
    answer = api.call("POST", f"/v1/cases/{case_id}/enquiries", "senior.cy", ENQUIRY)
    assert answer.status == 403
    assert "caseworker" in answer.body["detail"]
    page = api.call("GET", "/v1/cases?limit=5", as_user="officer.ada")
    assert page.status == 200
    assert {"items", "limit", "offset", "total"} <= set(page.body)


def test_an_enquiry_is_recorded_as_the_signed_in_officer_with_optimistic_concurrency(
    api: Api, app: App, case_id: UUID
) -> None:
    read = api.call("GET", f"/v1/cases/{case_id}", as_user="officer.ada")
    assert read.status == 200
    etag = read.headers["etag"]
    made = api.call(
        "POST", f"/v1/cases/{case_id}/enquiries", "officer.ada", ENQUIRY, {"If-Match": etag}
    )
    assert made.status == 201, made.body
    assert made.headers["etag"] != etag
    officer = TokenVerifier(api.keycloak.issuer, CLIENT, "realm_access.roles").verify(
        api.token("officer.ada")
    )
    case: Case = app.get_case(case_id)
    assert len(case.enquiries) == 1
    last = list(app.events.get(case_id))[-1]
    assert last.actor == officer.actor  # type: ignore[attr-defined]

    stale = api.call(
        "POST", f"/v1/cases/{case_id}/enquiries", "officer.bo", ENQUIRY, {"If-Match": etag}
    )
    assert stale.status == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert len(app.get_case(case_id).enquiries) == 1


def test_invalid_input_lists_every_field_and_rule_without_echoing_values(
    api: Api, case_id: UUID
) -> None:
    wrong = {**ENQUIRY, "agency": "SECRET-AGENCY-VALUE", "made_on": "yesterday-ish", "extra": 1}
    answer = api.call("POST", f"/v1/cases/{case_id}/enquiries", "officer.ada", wrong)
    assert answer.status == 422
    fields = {e["field"] for e in answer.body["errors"]}
    assert fields == {"agency", "made_on", "*"}  # an unknown member is never named
    assert "SECRET-AGENCY-VALUE" not in json.dumps(answer.body)
    assert "yesterday-ish" not in json.dumps(answer.body)


def test_an_unknown_case_is_404(api: Api) -> None:
    answer = api.call("POST", f"/v1/cases/{uuid4()}/enquiries", "officer.ada", ENQUIRY)
    assert answer.status == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_retried_post_has_one_effect_and_gets_the_first_answer(
    api: Api, app: App, case_id: UUID
) -> None:
    key = {"Idempotency-Key": f"retry-{uuid4()}"}
    first = api.call("POST", f"/v1/cases/{case_id}/enquiries", "officer.ada", ENQUIRY, key)
    again = api.call("POST", f"/v1/cases/{case_id}/enquiries", "officer.ada", ENQUIRY, key)
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert len(app.get_case(case_id).enquiries) == 1

    other = {**ENQUIRY, "outcome": "no_response"}
    reused = api.call("POST", f"/v1/cases/{case_id}/enquiries", "officer.ada", other, key)
    assert reused.status == 422
    assert reused.body["errors"][0]["field"] == "Idempotency-Key"
    # Keys are the caller's own: another officer's same key is another request.
    theirs = api.call("POST", f"/v1/cases/{case_id}/enquiries", "officer.bo", ENQUIRY, key)
    assert theirs.status == 201
    assert len(app.get_case(case_id).enquiries) == 2


def test_a_post_without_an_idempotency_key_is_refused(api: Api, case_id: UUID) -> None:
    token = {"Authorization": f"Bearer {api.token('officer.ada')}"}
    request = urllib.request.Request(  # noqa: S310 - the local API
        f"{api.url}/v1/cases/{case_id}/enquiries",
        data=json.dumps(ENQUIRY).encode(),
        method="POST",
        headers={**token, "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    with refused.value as answer:
        body = json.loads(answer.read())
    assert answer.code == 422
    assert [e["field"] for e in body["errors"]] == ["Idempotency-Key"]


def test_a_case_is_worked_through_status_officer_and_closure_as_the_officer(
    api: Api, app: App, case_id: UUID
) -> None:
    today = date.today().isoformat()
    steps = [
        ("status", {"status": "enquiries_in_progress", "changed_on": today}),
        ("officer", {"officer": "staff:officer.bo", "next_action_due": today}),
        ("close", {"outcome": "on_roll_at_school", "closed_on": today}),
    ]
    etag = api.call("GET", f"/v1/cases/{case_id}", as_user="officer.ada").headers["etag"]
    for step, body in steps:
        answer = api.call(
            "POST", f"/v1/cases/{case_id}/{step}", "officer.ada", body, {"If-Match": etag}
        )
        assert answer.status == 201, (step, answer.body)
        assert answer.headers["etag"] != etag
        etag = answer.headers["etag"]
    case = app.get_case(case_id)
    assert case.status.value == "closed"
    assert case.assigned_officer == "staff:officer.bo"


def test_a_rule_of_the_domain_is_a_problem_naming_it(api: Api, case_id: UUID) -> None:
    closing_by_status = {"status": "closed", "changed_on": date.today().isoformat()}
    answer = api.call("POST", f"/v1/cases/{case_id}/status", "officer.ada", closing_by_status)
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "status"


ROLE_USERS = {
    "caseworker": "officer.ada",
    "senior_officer": "senior.cy",
    "dpo": "dpo.dee",
    "auditor": "auditor.eli",
}
READERS = {"caseworker", "senior_officer", "dpo"}
MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/v1/cases"): READERS,
    ("GET", "/v1/cases/{case_id}"): READERS,
    ("GET", "/v1/views/{view}"): READERS,
    ("POST", "/v1/cases/{case_id}/enquiries"): {"caseworker"},
    ("POST", "/v1/cases/{case_id}/status"): {"caseworker"},
    ("POST", "/v1/cases/{case_id}/officer"): {"caseworker"},
    ("POST", "/v1/cases/{case_id}/close"): {"caseworker"},
    ("POST", "/v1/cases/{case_id}/support-decisions"): {"caseworker"},
    ("POST", "/v1/cases/{case_id}/support-decisions/{decision_id}/review"): {
        "senior_officer",
        "dpo",
    },
    ("GET", "/v1/children/{child_id}"): {"caseworker"},
    ("POST", "/v1/referrals"): {"caseworker"},
    ("POST", "/v1/children/{child_id}/information-received"): {"caseworker"},
    ("POST", "/v1/children/{child_id}/disclosure-requests"): {"caseworker"},
    ("GET", "/v1/disclosure-requests"): READERS,
    ("GET", "/v1/disclosures/{disclosure_id}"): READERS,
    ("POST", "/v1/disclosures/{disclosure_id}/approve"): {"senior_officer"},
    ("POST", "/v1/disclosures/{disclosure_id}/refuse"): {"senior_officer"},
    ("POST", "/v1/children/{child_id}/rights-requests"): {"dpo"},
    ("GET", "/v1/rights-requests/{request_id}"): {"dpo"},
    ("POST", "/v1/rights-requests/{request_id}/decide"): {"dpo"},
    ("POST", "/v1/rights-requests/{request_id}/{step}"): {"dpo"},
    ("POST", "/v1/children/{child_id}/rectification"): {"dpo"},
    ("POST", "/v1/children/{child_id}/lift-restriction"): {"dpo"},
    ("POST", "/v1/children/{child_id}/legal-holds"): {"dpo"},
    ("POST", "/v1/children/{child_id}/legal-holds/{hold_id}/release"): {"dpo"},
    ("GET", "/v1/children/{child_id}/access-package"): {"dpo"},
    ("GET", "/v1/children/{child_id}/access-log"): {"dpo"},
    ("GET", "/v1/audit/ledger"): {"auditor"},
    ("GET", "/v1/audit/report"): {"auditor"},
    ("GET", "/v1/audit/children/{child_id}/history"): {"auditor"},
    ("GET", "/v1/audit/replay/{aggregate_id}"): {"auditor"},
    ("GET", "/v1/audit/export"): {"auditor"},
    ("GET", "/v1/audit/ledger/entries/{seq}/proof"): {"auditor", "dpo"},
}
"""Who may call what, written out here: a new endpoint fails the test until it is listed."""


def _bodies() -> dict[str, dict[str, Any]]:
    today = date.today().isoformat()
    return {
        "referrals": _referral(SyntheticCounty(seed=seed("role matrix referral"))),
        "information-received": INFORMATION,
        "enquiries": ENQUIRY,
        "status": {"status": "whereabouts_unknown", "changed_on": today},
        "officer": {"officer": "staff:officer.bo"},
        "close": {"outcome": "other", "closed_on": today},
        "disclosure-requests": DISCLOSURE,
        "approve": {"approved_on": today},
        "refuse": {"refused_on": today, "reasons": "Not necessary for this purpose"},
        "rights-requests": {
            "request_type": "access",
            "received_on": today,
            "requester_name": "Synthetic Parent",
        },
        "decide": {"decision": "fulfilled"},
        "{step}": {},
        "rectification": {"corrections": {"preferred_name": "Sam"}},
        "lift-restriction": {},
        "legal-holds": {"reason": "Serious case review", "authority": "Synthetic LSCP"},
        "release": {},
        "support-decisions": DECISION,
        "review": {"upheld": False, "notes": "Reviewed by a person: the rule missed a school"},
    }


def test_an_automated_decision_is_reviewed_by_a_person_on_request(
    api: Api, app: App, case_id: UUID
) -> None:
    """The privacy notice's right to have an automated decision reviewed by a member of staff."""
    path = f"/v1/cases/{case_id}/support-decisions"
    made = api.call("POST", path, "officer.ada", DECISION)
    assert made.status == 201, made.body
    decision_id = made.body["decision_id"]
    review = f"{path}/{decision_id}/review"
    by_caseworker = api.call("POST", review, "officer.ada", {"upheld": True, "notes": "Fine"})
    assert by_caseworker.status == 403
    reviewed = api.call(
        "POST", review, "senior.cy", {"upheld": False, "notes": "The child has a school place"}
    )
    assert reviewed.status == 201, reviewed.body
    events = [type(e).__name__ for e in app.events.get(case_id)]
    assert events[-2:] == ["SupportDecisionRecorded", "AutomatedDecisionReviewed"]
    by_person = api.call(
        "POST", path, "officer.ada", {**DECISION, "automated": False, "rule_id": None}
    )
    assert by_person.status == 201, by_person.body
    refused = api.call(
        "POST",
        f"{path}/{by_person.body['decision_id']}/review",
        "dpo.dee",
        {"upheld": True, "notes": "Nothing to review"},
    )
    assert refused.status == 409, refused.body  # only a rule's decision is reviewed this way
    assert "Sixty days" not in json.dumps(made.body) + json.dumps(reviewed.body)


def test_the_role_matrix_covers_every_endpoint(api: Api) -> None:
    with urllib.request.urlopen(f"{api.url}/openapi.json", timeout=30) as response:  # noqa: S310
        document = json.loads(response.read())
    published = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert published == set(MATRIX)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_every_role_is_refused_outside_its_rights(
    api: Api, app: App, case_id: UUID, method: str, path: str
) -> None:
    child_id = app.get_case(case_id).child_id
    url = path.format(
        case_id=case_id,
        child_id=child_id,
        view="whereabouts-unknown",
        disclosure_id=uuid4(),
        request_id=uuid4(),
        hold_id=uuid4(),
        decision_id=uuid4(),
        step="verify-identity",
        aggregate_id=child_id,
        seq=1,
    )
    body = _bodies().get(path.rsplit("/", 1)[-1]) if method == "POST" else None
    for role, user in ROLE_USERS.items():
        answer = api.call(method, url, user, body)
        assert answer.headers.get("cache-control") == "no-store", (role, method, path)
        if role in MATRIX[(method, path)]:
            assert answer.status not in (401, 403), (role, method, path, answer.body)
        else:
            assert answer.status == 403, (role, method, path, answer.status)
            assert answer.headers["content-type"] == "application/problem+json"


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    api: Api
    log: Path

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=60)


def _serving(services: Services, log: Path, *command: str) -> Serving:
    """``cme COMMAND`` serving the API on a free port, answering a signed-in read."""
    assert services.keycloak is not None
    port = _free_port()
    env = {
        **os.environ,
        "CME_MODE": "services",
        "CME_OIDC_ISSUER": services.keycloak.issuer,
        "CME_API_PORT": str(port),
    }
    argv = [sys.executable, "-m", "cme.cli", *command]
    if command[0] == "serve":
        argv += ["--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    serving = Serving(process, Api(f"http://127.0.0.1:{port}", services.keycloak), log)

    def answers() -> bool:
        try:
            return serving.api.call("GET", "/v1/cases", as_user="officer.ada").status == 200
        except OSError:
            return False

    try:
        wait_for(answers, 90, " ".join(command), log.read_text)
    except BaseException:
        serving.stop()
        raise
    return serving


def test_cme_run_serves_the_api_as_a_worker_and_stops_cleanly(
    services: Services, tmp_path: Path
) -> None:
    serving = _serving(services, tmp_path / "run.log", "run", "api")
    assert serving.stop() == 0, serving.log.read_text()


def _children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_cme_serve_answers_from_several_processes_and_stops_them_all(
    services: Services, app: App, case_id: UUID, tmp_path: Path
) -> None:
    """One process serves one use case at a time; --processes runs more on the one port."""
    running = _serving(services, tmp_path / "serve.log", "serve", "--processes", "2")
    served, log, server = running.api, running.log, running.process
    serving: set[int] = set()
    try:
        serving = {
            child
            for child in _children_of(server.pid)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        }
        assert len(serving) >= 2, log.read_text()
        # Reads of one child at once, in both processes: each is recorded, none is a 500
        # (they append to the child's access log at the same version and one loses).
        child_id = app.get_case(case_id).child_id
        asked = served.call(
            "POST", f"/v1/children/{child_id}/disclosure-requests", "officer.ada", DISCLOSURE
        )
        assert asked.status == 201, asked.body
        one = f"/v1/disclosures/{asked.body['disclosure_id']}"  # its necessity: a logged read
        before = len(app.reads_of(child_id))
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(
                pool.map(lambda _: served.call("GET", one, "senior.cy").status, range(24))
            )
        assert statuses == [200] * 24, log.read_text()
        assert len(app.reads_of(child_id)) == before + 24
    finally:
        code = running.stop()
    assert code == 0, log.read_text()
    wait_for(
        lambda: not any(Path(f"/proc/{child}").exists() for child in serving),
        10,
        "every serving process to end with it",
        log.read_text,
    )
    assert "from 2 processes" in log.read_text()


def _referral(county: SyntheticCounty) -> dict[str, Any]:
    return {
        "details": county.child_details(),
        "source": "member_of_public",
        "reason": "removed_from_roll_whereabouts_unknown",
        "referred_on": date.today().isoformat(),
        "referrer_name": "A. Synthetic Neighbour",
        "notes": "Telephoned: the family left the flat last month",
    }


def test_a_phone_referral_registers_the_child_once_and_opens_one_case(
    api: Api, app: App, request: pytest.FixtureRequest
) -> None:
    referral = _referral(SyntheticCounty(seed=seed(request.node.name)))
    first = api.call("POST", "/v1/referrals", "officer.ada", referral)
    assert first.status == 201, first.body
    assert (first.body["registered"], first.body["opened"]) == (True, True)
    child_id, case_id = UUID(first.body["child_id"]), UUID(first.body["case_id"])
    assert app.get_child(child_id).open_case_id == case_id

    again = api.call("POST", "/v1/referrals", "officer.bo", {**referral, "notes": "Second call"})
    assert again.status == 201, again.body
    assert again.body == {
        "child_id": str(child_id),
        "case_id": str(case_id),
        "registered": False,
        "opened": False,
    }
    surname = referral["details"]["legal_surname"]
    bad = {**referral, "details": {**referral["details"], "date_of_birth": "2999-01-01"}}
    refused = api.call("POST", "/v1/referrals", "officer.ada", bad)
    assert refused.status == 422
    assert surname not in json.dumps(refused.body)
    # Both dates wrong: one answer names both (it named the referral date, then the birth).
    both = api.call("POST", "/v1/referrals", "officer.ada", {**bad, "referred_on": "9999-12-31"})
    assert both.status == 422, both.body
    assert {e["field"] for e in both.body["errors"]} >= {"referred_on", "details"}, both.body


@pytest.mark.parametrize(
    "view", ["whereabouts-unknown", "overdue-reduced-timetables", "moves-awaiting-confirmation"]
)
def test_each_caseworker_view_pages(api: Api, view: str) -> None:
    page = api.call("GET", f"/v1/views/{view}?limit=3&offset=0", as_user="officer.ada")
    assert page.status == 200, page.body
    assert page.body["limit"] == 3
    assert len(page.body["items"]) <= 3
    assert page.body["total"] >= len(page.body["items"])
    unknown = api.call("GET", "/v1/views/everything", as_user="officer.ada")
    assert unknown.status == 422


def test_a_change_without_if_match_is_refused_with_428(api: Api, case_id: UUID) -> None:
    token = {"Authorization": f"Bearer {api.token('officer.ada')}"}
    request = urllib.request.Request(  # noqa: S310 - the local API
        f"{api.url}/v1/cases/{case_id}/enquiries",
        data=json.dumps(ENQUIRY).encode(),
        method="POST",
        headers={**token, "Content-Type": "application/json", "Idempotency-Key": f"k-{uuid4()}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    with refused.value as answer:
        assert answer.code == 428
        assert "If-Match" in json.loads(answer.read())["detail"]


def test_an_anonymous_caller_is_refused_before_the_body_is_read(api: Api) -> None:
    """A broken or huge body from someone not signed in gets 401, not a parse of it."""
    broken = urllib.request.Request(  # noqa: S310 - the local API
        f"{api.url}/v1/referrals",
        data=b"{not json",
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": "anonymous-1"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(broken, timeout=30)  # noqa: S310
    with refused.value as answer:
        assert answer.code == 401
    huge = api.call("POST", "/v1/referrals", "officer.ada", {"notes": "x" * (70 * 1024)})
    assert huge.status == 413


def test_a_streamed_body_past_the_limit_is_refused_as_it_arrives(
    api: Api, app: App, case_id: UUID
) -> None:
    """No Content-Length to check up front: the limit is counted as the chunks arrive."""
    child_id = app.get_case(case_id).child_id
    before = app.recorder.max_notification_id()
    padding = (b" " * 4096 for _ in range(40))  # 160 KiB of whitespace, valid JSON once closed
    body = [json.dumps(INFORMATION)[:-1].encode(), b', "content": "x"', *padding, b"}"]
    path = f"/v1/children/{child_id}/information-received"
    refused = api.send(path, "officer.ada", body, {})
    assert refused.status == 413, refused.body
    assert refused.body["detail"] == "bodies are at most 65536 bytes"
    assert app.recorder.max_notification_id() == before
    small = api.send(path, "officer.ada", [json.dumps(INFORMATION).encode()], {})
    assert small.status == 201, small.body  # the same stream, within the limit, is taken


def test_a_body_intake_would_refuse_is_refused_here_too(api: Api, app: App, case_id: UUID) -> None:
    """Two doors, one reading: a member twice, NaN, a NUL, an unknown member's name."""
    path = f"/v1/cases/{case_id}/enquiries"
    twice = b'{"made_on": "2026-01-01", "made_on": "2026-01-02", "agency": "school"}'
    for raw, rule in [
        (twice, "duplicate_key"),
        (b'{"agency": NaN}', "not_json"),
        (b'{"agency": "school\\u0000"}', "bad_text"),
    ]:
        answer = api.send(path, "officer.ada", [raw], {"If-Match": "*"})
        assert answer.status == 422, (raw, answer.body)
        assert answer.body["errors"][0]["rule"] == rule, answer.body
    named = api.call("POST", path, "officer.ada", {**ENQUIRY, "zoe_quillfeather": "1"})
    assert named.status == 422, named.body
    assert "quillfeather" not in json.dumps(named.body)
    assert named.body["errors"][0] == {
        "field": "*",
        "rule": "extra_forbidden",
        "message": "Extra inputs are not permitted",
    }


def test_a_body_not_sent_as_json_is_named_as_such(api: Api, case_id: UUID) -> None:
    """It was 'Input should be a valid dictionary': true, but not what to change."""
    path = f"/v1/cases/{case_id}/enquiries"
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        answer = api.send(
            path, "officer.ada", [json.dumps(ENQUIRY).encode()], {"Content-Type": content_type}
        )
        assert answer.status == 415, (content_type, answer.body)
        assert "Content-Type: application/json" in answer.body["detail"]


def test_a_query_parameter_an_endpoint_does_not_take_is_refused_unrepeated(
    api: Api, case_id: UUID
) -> None:
    """A misspelt filter answered every row, as if it had filtered."""
    for path in (
        "/v1/cases?Quillfeather=1",
        "/v1/views/whereabouts-unknown?asigned_officer=staff:x",
        f"/v1/cases/{case_id}?limit=1",
    ):
        answer = api.call("GET", path, as_user="officer.ada")
        assert answer.status == 422, (path, answer.body)
        assert answer.body["errors"][0]["rule"] == "unknown_parameter"
        assert "Quillfeather" not in json.dumps(answer.body)
        assert "asigned" not in json.dumps(answer.body)
    assert api.call("GET", "/v1/cases?limit=1&status=referred", as_user="officer.ada").status == 200


def test_information_cannot_be_filed_under_another_childs_case(
    api: Api, app: App, case_id: UUID, request: pytest.FixtureRequest
) -> None:
    county = SyntheticCounty(seed=seed(f"{request.node.name}-another-child"))
    other_child = app.register_child(c.RegisterChild.of(county.register_child()))
    path = f"/v1/children/{other_child}/information-received"
    before = app.recorder.max_notification_id()
    refused = api.call("POST", path, "officer.ada", {**INFORMATION, "case_id": str(case_id)})
    assert refused.status == 409, refused.body
    assert refused.body["errors"][0]["field"] == "case_id"
    assert refused.body["errors"][0]["rule"] == "case_of_another_child"
    assert app.recorder.max_notification_id() == before


def test_a_disclosure_goes_out_only_on_a_second_persons_approval(
    api: Api, app: App, case_id: UUID, workers: WorkerEnvironment, services: Services
) -> None:
    """End to end: the API, the relay and projector into the read models, the ledger writer."""
    running = workers.start("relay", "projector", "ledger")
    child_id = app.get_case(case_id).child_id
    path = f"/v1/children/{child_id}/disclosure-requests"
    asked = api.call("POST", path, "officer.ada", {**DISCLOSURE, "case_id": str(case_id)})
    assert asked.status == 201, asked.body
    assert (asked.body["status"], asked.body["refusal_reason"]) == ("requested", None)
    disclosure_id = asked.body["disclosure_id"]

    def awaiting() -> set[str]:
        page = api.call(
            "GET", "/v1/disclosure-requests?limit=500&recipient_agency=police", as_user="senior.cy"
        )
        assert page.status == 200, page.body
        return {item["disclosure_id"] for item in page.body["items"]}

    wait_for(lambda: disclosure_id in awaiting(), 90, "the request, projected", workers.logs)
    to_gps = api.call("GET", "/v1/disclosure-requests?recipient_agency=gp", as_user="senior.cy")
    assert disclosure_id not in {item["disclosure_id"] for item in to_gps.body["items"]}

    reads_before = _reads_of(app, child_id)
    seen = api.call("GET", f"/v1/disclosures/{disclosure_id}", as_user="senior.cy")
    assert seen.status == 200, seen.body
    assert seen.body["necessity"] == DISCLOSURE["necessity"]
    assert _reads_of(app, child_id) == reads_before + 1  # reading the statement is logged

    today = date.today().isoformat()
    approval = {"approved_on": today}
    assert api.call("POST", f"{_one(disclosure_id)}/approve", "officer.bo", approval).status == 403
    stale = api.call(
        "POST", f"{_one(disclosure_id)}/approve", "senior.cy", approval, {"If-Match": '"0"'}
    )
    assert stale.status == 412, stale.body
    made = api.call(
        "POST",
        f"{_one(disclosure_id)}/approve",
        "senior.cy",
        approval,
        {"If-Match": seen.headers["etag"]},
    )
    assert made.status == 201, made.body
    assert made.body["status"] == "made"
    approver = TokenVerifier(api.keycloak.issuer, CLIENT, "realm_access.roles").verify(
        api.token("senior.cy")
    )
    kinds = [
        (LEDGER[type(event)](event)["kind"], event.actor)  # type: ignore[attr-defined]
        for event in app.events.get(UUID(disclosure_id))
    ]
    requester = TokenVerifier(api.keycloak.issuer, CLIENT, "realm_access.roles").verify(
        api.token("officer.ada")
    )
    assert kinds == [
        ("disclosure_requested", requester.actor),
        ("disclosure_made", approver.actor),
    ]
    again = api.call("POST", f"{_one(disclosure_id)}/refuse", "senior.cy", _REFUSAL)
    assert again.status == 409
    assert again.body["errors"][0]["rule"] == "disclosure_state"

    wait_for(lambda: disclosure_id not in awaiting(), 90, "the approval, projected", workers.logs)
    ledger = LedgerReader(role_url(services.settings, Role.AUDITOR))

    def in_ledger() -> list[str]:
        return [
            entry["kind"]
            for entry in ledger.documents_about(child_id)
            if entry["source_event"]["originator_id"] == disclosure_id
        ]

    wait_for(lambda: len(in_ledger()) == 2, 90, "the ledger entries", workers.logs)
    assert in_ledger() == ["disclosure_requested", "disclosure_made"]

    assert workers.stop(running) == 0, workers.logs()


def test_the_case_commands_reach_the_caseworker_read_models(
    api: Api, app: App, case_id: UUID, workers: WorkerEnvironment
) -> None:
    """End to end: the API's changes, through the relay and projector, in the views."""
    running = workers.start("relay", "projector")
    child_id = app.get_case(case_id).child_id
    officer = "staff:officer.bo"
    steps = [
        ("enquiries", {**ENQUIRY, "joint_with_school": True}),
        ("status", {"status": "whereabouts_unknown", "changed_on": date.today().isoformat()}),
        ("officer", {"officer": officer}),
    ]
    for step, body in steps:
        changed = api.call("POST", f"/v1/cases/{case_id}/{step}", "officer.ada", body)
        assert changed.status == 201, (step, changed.body)

    def listed() -> bool:
        mine = f"/v1/cases?status=whereabouts_unknown&assigned_officer={officer}&limit=500"
        page = api.call("GET", mine, as_user="officer.ada").body
        return str(case_id) in {item["case_id"] for item in page["items"]}

    wait_for(listed, 90, "the case's status and officer, projected", workers.logs)
    record = api.call("GET", f"/v1/children/{child_id}", as_user="officer.ada").body
    kinds = [row["kind"] for row in record["timeline"]]
    assert "enquiry" in kinds and "status" in kinds, kinds
    enquiry = next(row for row in record["timeline"] if row["kind"] == "enquiry")
    assert enquiry["joint_with_school"] is True  # made together with the school (#14)
    # A list and an object, not JSON text inside a string to parse again.
    assert isinstance(record["child"]["carers"], list)
    assert isinstance(record["child"]["flags"], dict)
    assert workers.stop(running) == 0, workers.logs()


def test_a_senior_officer_cannot_decide_their_own_request(
    api: Api, app: App, case_id: UUID
) -> None:
    """senior.dan also takes cases: his own request needs someone else's decision."""
    child_id = app.get_case(case_id).child_id
    asked = api.call(
        "POST", f"/v1/children/{child_id}/disclosure-requests", "senior.dan", DISCLOSURE
    )
    assert asked.status == 201, asked.body
    disclosure_id = asked.body["disclosure_id"]
    today = date.today().isoformat()
    own = api.call("POST", f"{_one(disclosure_id)}/approve", "senior.dan", {"approved_on": today})
    assert own.status == 409, own.body
    assert own.body["errors"][0]["rule"] == "two_person_rule"
    also = api.call("POST", f"{_one(disclosure_id)}/refuse", "senior.dan", _REFUSAL)
    assert also.status == 409
    refused = api.call("POST", f"{_one(disclosure_id)}/refuse", "senior.cy", _REFUSAL)
    assert refused.status == 201, refused.body
    assert refused.body["refusal_reason"] == "refused_by_approver"


def test_a_restricted_childs_disclosure_is_refused_by_the_rules_at_once(
    api: Api, app: App, case_id: UUID
) -> None:
    child_id = app.get_case(case_id).child_id
    app.receive_rights_request(
        c.ReceiveRightsRequest.of(
            {
                "actor": "staff:dpo.dee",
                "child_id": child_id,
                "request_type": "restriction",
                "received_on": date.today().isoformat(),
                "requester_name": "Synthetic Parent",
            }
        )
    )
    tax = {
        **DISCLOSURE,
        "recipient_agency": "council_tax",
        "purpose": "tax",
        "lawful_basis": "dpa_2018_sch2_pt1_para2_1_c_assessment_collection_of_tax",
    }
    answer = api.call("POST", f"/v1/children/{child_id}/disclosure-requests", "officer.ada", tax)
    assert answer.status == 201, answer.body
    assert answer.body["status"] == "refused"
    assert answer.body["refusal_reason"] == "processing_restricted"


_REFUSAL = {"refused_on": date.today().isoformat(), "reasons": "The school has found the child"}


def _one(disclosure_id: str) -> str:
    return f"/v1/disclosures/{disclosure_id}"


def _reads_of(app: App, child_id: UUID) -> int:
    return len(app.reads_of(child_id))


def test_information_received_is_recorded_and_a_future_date_refused(
    api: Api, app: App, case_id: UUID
) -> None:
    child_id = app.get_case(case_id).child_id
    path = f"/v1/children/{child_id}/information-received"
    made = api.call("POST", path, "officer.ada", {**INFORMATION, "case_id": str(case_id)})
    assert made.status == 201, made.body
    tomorrow = date.fromordinal(date.today().toordinal() + 1).isoformat()
    future = api.call("POST", path, "officer.ada", {**INFORMATION, "received_on": tomorrow})
    assert future.status == 422
    assert future.body["errors"][0]["field"] == "received_on"
    closing = {"outcome": "other", "closed_on": tomorrow}
    assert api.call("POST", f"/v1/cases/{case_id}/close", "officer.ada", closing).status == 422
