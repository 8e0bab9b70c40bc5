"""Subject access package and the statutory clock list, on the embedded stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cme.bootstrap import build_application
from cme.rights import access_package, markdown, overdue
from cme.settings import load_settings
from cme.synthetic import SyntheticCounty
from domain.application import CMEApplication
from domain.values import LawfulBasis
from projections.ledger import ledger_entry

TODAY = date(2026, 11, 30)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CMEApplication]:
    application = build_application(
        load_settings(mode="embedded", data_dir=tmp_path), today=lambda: TODAY
    )
    yield application
    application.close()


def test_the_access_package_lists_every_value_and_every_recipient(app: CMEApplication) -> None:
    command = SyntheticCounty(seed=31).register_child()
    child_id = app.register_child(command)
    case_id = app.open_case(
        {
            "actor": "cw:1",
            "child_id": child_id,
            "source": "member_of_public",
            "reason": "never_registered",
            "referred_on": TODAY,
            "referrer_name": "Synthetic Neighbour",
        }
    )
    for agency, basis in (
        ("police", LawfulBasis.SAFEGUARDING),
        ("gp", LawfulBasis.PUBLIC_TASK_S436A),
    ):
        app.make_disclosure(
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
    package = access_package(app, child_id, actor="dpo:1")
    assert package["personal_data"]["legal_surname"] == command["details"]["legal_surname"]
    assert {r["recipient_agency"] for r in package["recipients"]} == {"police", "gp"}
    assert package["retention"]["kept_until"] is not None
    # Other people's details are set aside for review, not silently released.
    who = {t["who"] for t in package["third_party_data_for_review"]}
    assert who == {"carer", "referrer"}
    assert len(package["rights"]) == 8
    json.dumps(package)  # machine-readable (portability)
    assert "Synthetic police" in markdown(package)
    # Producing the package is itself recorded, and becomes a ledger entry.
    read = [e for e in app.events.get(child_id) if type(e).__name__ == "PersonalDataRead"]
    assert len(read) == 1
    entry = ledger_entry("domain.child:Child.PersonalDataRead", read[0])
    assert entry is not None and entry["purpose"] == "subject_access_request"


def test_overdue_lists_late_and_nearly_due_requests(app: CMEApplication) -> None:
    child_id = app.register_child(SyntheticCounty(seed=32).register_child())

    def request(received: str) -> object:
        return app.receive_rights_request(
            {
                "actor": "dpo:1",
                "child_id": child_id,
                "request_type": "access",
                "received_on": received,
                "requester_name": "Synthetic Parent",
            }
        )

    late = request("2026-10-01")
    soon = request("2026-11-05")
    request("2026-11-29")  # due 29 December: not listed
    rows = overdue(app, TODAY)
    assert [r["request_id"] for r in rows] == [str(late), str(soon)]
    assert rows[0]["days_left"] < 0 <= rows[1]["days_left"] <= 7
