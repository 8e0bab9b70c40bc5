"""One application test suite, run on every persistence (the design's contract tests).

Subclasses provide the ``app`` fixture and ``raw_store``: the bytes a thief
would get by copying the stores (event store, blind index). The same stories
must hold on the in-memory store, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from cme.bootstrap import App
from devtools.synthetic import SyntheticCounty
from domain.commands import (
    ApproveDisclosure,
    AssignOfficer,
    ChangeCaseStatus,
    CloseCase,
    DecideRequest,
    LiftRestriction,
    MakeDisclosure,
    OpenCase,
    ReceiveRightsRequest,
    RecordEnquiry,
    RecordInformationReceived,
    RecordSchoolRegistration,
    RectifyChildDetails,
    RefuseDisclosure,
    RegisterChild,
    RequestDisclosure,
    VerifyIdentity,
)
from domain.disclosure import RULES
from domain.errors import (
    CaseNotFoundError,
    CaseOfAnotherChildError,
    ChildNotFoundError,
    ChildShreddedError,
    DisclosureStateError,
    DuplicateChildError,
    InvalidCommandError,
    RestrictionUnderConsiderationError,
    TwoPersonRuleError,
)
from domain.markers import Shredded
from domain.values import CaseStatus, RefusalReason, ShredReason
from projections.ledger import BY_EVENT as LEDGER_ENTRY
from tests.seeds import seed

CRIME = "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime"
TAX = "dpa_2018_sch2_pt1_para2_1_c_assessment_collection_of_tax"
TAX_REQUEST = {
    "recipient_agency": "council_tax",
    "recipient_organisation": "Synthetic Council Tax Office",
    "purpose": "tax",
}
"""What the tax exemption is for: council tax, for tax."""


def approval(disclosure_id: UUID, actor: str = "so:bea") -> dict[str, Any]:
    return {"actor": actor, "disclosure_id": disclosure_id, "approved_on": "2026-11-03"}


def refusal(disclosure_id: UUID, actor: str = "so:bea") -> dict[str, Any]:
    return {
        "actor": actor,
        "disclosure_id": disclosure_id,
        "refused_on": "2026-11-03",
        "reasons": "Not necessary: the school has already located the child",
    }


class ApplicationContract:
    """Stories every persistence must pass."""

    def destroy_key(self, app: App, child_id: UUID, reason: str) -> None:
        """As the retention job does; a store with roles overrides it with the job's role."""
        app.data_keys.destroy(child_id, reason=reason)

    def raw_store(self, app: App) -> bytes:
        raise NotImplementedError

    @pytest.fixture
    def county(self, request: pytest.FixtureRequest) -> SyntheticCounty:
        # A fresh seed each run (printed, repeatable): the PostgreSQL store outlives a run.
        return SyntheticCounty(seed=seed(request.node.nodeid))

    def register(self, app: App, county: SyntheticCounty, **details: Any) -> UUID:
        return app.register_child(
            RegisterChild.of(county.register_child(actor="cw:alice", **details))
        )

    def test_register_then_find_by_upn_and_by_name(self, app: App, county: SyntheticCounty) -> None:
        # Register a child.
        command = county.register_child(upn=county.upn())
        child_id = app.register_child(RegisterChild.of(command))
        details = command["details"]
        # Intake can find them again without decrypting anything.
        assert app.find_child_by_upn(details["upn"].lower()) == child_id
        surname = "  " + details["legal_surname"].upper() + " "
        assert (
            app.find_child_by_surname_and_dob(
                surname, date.fromisoformat(details["date_of_birth"]), details["legal_forenames"]
            )
            == child_id
        )
        assert app.find_child_by_upn(county.upn()) is None

    def test_twins_are_two_children(self, app: App, county: SyntheticCounty) -> None:
        # Same surname, same date of birth, different forenames: not the same child.
        first = county.child_details(upn=None)
        second = {**first, "legal_forenames": first["legal_forenames"] + "a"}
        one = app.register_child(
            RegisterChild.of({"actor": "cw:1", "source": "school", "details": first})
        )
        two = app.register_child(
            RegisterChild.of({"actor": "cw:1", "source": "school", "details": second})
        )
        dob = date.fromisoformat(first["date_of_birth"])
        surname = first["legal_surname"]
        assert app.find_child_by_surname_and_dob(surname, dob, first["legal_forenames"]) == one
        assert app.find_child_by_surname_and_dob(surname, dob, second["legal_forenames"]) == two

    def test_a_upn_belongs_to_one_child(self, app: App, county: SyntheticCounty) -> None:
        upn = county.upn()
        self.register(app, county, upn=upn)
        with pytest.raises(DuplicateChildError):
            self.register(app, county, upn=upn)

    def test_rectification_moves_the_index(self, app: App, county: SyntheticCounty) -> None:
        old_upn, new_upn = county.upn(), county.upn()
        child_id = self.register(app, county, upn=old_upn)
        details = app.get_child(child_id).current_details().model_copy(update={"upn": new_upn})
        changed = app.rectify_child_details(
            RectifyChildDetails.of({"actor": "cw:bob", "child_id": child_id, "details": details})
        )
        assert changed == ["upn"]
        assert app.find_child_by_upn(old_upn) is None
        assert app.find_child_by_upn(new_upn) == child_id

    def test_case_story(self, app: App, county: SyntheticCounty) -> None:
        child_id = self.register(app, county)
        # A school reports a child removed from roll with whereabouts unknown.
        case_id = app.open_case(
            OpenCase.of(
                {
                    "actor": "cw:alice",
                    "child_id": child_id,
                    "source": "school",
                    "reason": "removed_from_roll_whereabouts_unknown",
                    "referred_on": "2026-10-01",
                    "referrer_name": "Synthetic Head Teacher",
                }
            )
        )
        # Enquiries with the GP and the police.
        app.record_enquiry(
            RecordEnquiry.of(
                {
                    "actor": "cw:alice",
                    "case_id": case_id,
                    "made_on": "2026-10-02",
                    "agency": "gp",
                    "method": "phone",
                    "outcome": "not_known_to_agency",
                }
            )
        )
        app.change_case_status(
            ChangeCaseStatus.of(
                {
                    "actor": "cw:alice",
                    "case_id": case_id,
                    "status": "whereabouts_unknown",
                    "changed_on": "2026-10-20",
                }
            )
        )
        app.assign_officer(
            AssignOfficer.of(
                {
                    "actor": "mgr:1",
                    "case_id": case_id,
                    "officer": "cw:carol",
                    "next_action_due": "2026-11-01",
                }
            )
        )
        # The child is found on roll elsewhere: close the case.
        app.close_case(
            CloseCase.of(
                {
                    "actor": "cw:carol",
                    "case_id": case_id,
                    "outcome": "on_roll_at_school",
                    "closed_on": "2026-11-02",
                }
            )
        )
        case = app.get_case(case_id)
        assert case.status is CaseStatus.CLOSED
        assert case.assigned_officer == "cw:carol"
        assert case.child_id == child_id
        assert len(case.enquiries) == 1

    def test_unknown_ids_are_domain_errors(self, app: App) -> None:
        with pytest.raises(ChildNotFoundError):
            app.get_child(uuid4())
        with pytest.raises(CaseNotFoundError):
            app.get_case(uuid4())

    def test_bad_commands_are_rejected_before_the_store(
        self, app: App, county: SyntheticCounty
    ) -> None:
        with pytest.raises(InvalidCommandError):
            app.register_child(RegisterChild.of(county.register_child(date_of_birth="2999-01-01")))

    def disclosure(self, child_id: UUID, basis: str) -> dict[str, Any]:
        return {
            "actor": "cw:alice",
            "child_id": child_id,
            "recipient_agency": "police",
            "recipient_organisation": "Synthetic Constabulary",
            "purpose": "locate_child",
            "lawful_basis": basis,
            "categories": ["names", "address", "date_of_birth"],
            "requested_by": "cw:alice",
            "approved_by": "mgr:1",
            "disclosed_on": "2026-11-01",
            "summary": "Last known address shared",
        }

    def test_a_record_cannot_be_filed_under_another_childs_case(
        self, app: App, county: SyntheticCounty
    ) -> None:
        mine, theirs = self.register(app, county), self.register(app, county)
        case_of = {
            child: app.open_case(
                OpenCase.of(
                    {
                        "actor": "cw:alice",
                        "child_id": child,
                        "source": "school",
                        "reason": "removed_from_roll_whereabouts_unknown",
                        "referred_on": "2026-10-01",
                    }
                )
            )
            for child in (mine, theirs)
        }
        received = {
            "actor": "cw:alice",
            "child_id": mine,
            "source_agency": "housing",
            "source_organisation": "Synthetic Homes",
            "categories": ["address"],
            "received_on": "2026-11-01",
        }
        shared = {**self.disclosure(mine, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")}
        before = app.recorder.max_notification_id()
        with pytest.raises(CaseOfAnotherChildError, match="is not a case of child") as refused:
            app.record_information_received(
                RecordInformationReceived.of({**received, "case_id": case_of[theirs]})
            )
        assert refused.value.violations()[0].field == "case_id"
        with pytest.raises(CaseOfAnotherChildError):
            app.make_disclosure(MakeDisclosure.of({**shared, "case_id": case_of[theirs]}))
        with pytest.raises(CaseNotFoundError):
            app.make_disclosure(MakeDisclosure.of({**shared, "case_id": uuid4()}))
        assert app.recorder.max_notification_id() == before  # nothing was stored
        # Under the child's own case, both are recorded.
        app.record_information_received(
            RecordInformationReceived.of({**received, "case_id": case_of[mine]})
        )
        assert app.make_disclosure(MakeDisclosure.of({**shared, "case_id": case_of[mine]})).made

    def request(self, child_id: UUID, basis: str, **overrides: Any) -> dict[str, Any]:
        return {
            "actor": "cw:alice",
            "child_id": child_id,
            "recipient_agency": "police",
            "recipient_organisation": "Synthetic Constabulary",
            "purpose": "locate_child",
            "lawful_basis": basis,
            "categories": ["address", "names"],
            "necessity": "The police need the last known address to find the child today",
            "requested_on": "2026-11-01",
            **overrides,
        }

    def tax_request(self, child_id: UUID) -> dict[str, Any]:
        return self.request(child_id, TAX, **TAX_REQUEST)

    def ledger_kinds(self, app: App, disclosure_id: UUID) -> list[tuple[str, str]]:
        """(kind, actor) of each ledger entry the disclosure's events make, in order."""
        return [
            (entry["kind"], entry["actor"]) for entry in self.ledger_entries(app, disclosure_id)
        ]

    def ledger_entries(self, app: App, disclosure_id: UUID) -> list[dict[str, Any]]:
        events = app.repository.event_store.get(disclosure_id)
        return [LEDGER_ENTRY[type(event)](event) for event in events]

    def test_a_disclosure_goes_out_on_a_second_persons_approval(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        requested = app.request_disclosure(RequestDisclosure.of(self.request(child_id, CRIME)))
        assert requested.status == "requested"
        disclosure_id = requested.disclosure_id
        before = app.recorder.max_notification_id()
        with pytest.raises(TwoPersonRuleError, match="someone other than its requester"):
            app.approve_disclosure(ApproveDisclosure.of(approval(disclosure_id, "cw:alice")))
        with pytest.raises(TwoPersonRuleError):
            app.refuse_disclosure(RefuseDisclosure.of(refusal(disclosure_id, "cw:alice")))
        assert app.recorder.max_notification_id() == before
        with pytest.raises(DisclosureStateError, match="before it was requested"):
            app.approve_disclosure(
                ApproveDisclosure.of({**approval(disclosure_id), "approved_on": "2026-10-31"})
            )
        made = app.approve_disclosure(ApproveDisclosure.of(approval(disclosure_id)))
        assert (made.made, made.status) == (True, "made")
        assert app.get_disclosure(disclosure_id).outcome == "made"
        with pytest.raises(DisclosureStateError, match="not awaiting a decision"):
            app.refuse_disclosure(RefuseDisclosure.of(refusal(disclosure_id)))
        assert self.ledger_kinds(app, disclosure_id) == [
            ("disclosure_requested", "cw:alice"),
            ("disclosure_made", "so:bea"),
        ]

    def test_a_second_person_may_refuse_with_reasons(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        requested = app.request_disclosure(RequestDisclosure.of(self.request(child_id, CRIME)))
        refused = app.refuse_disclosure(RefuseDisclosure.of(refusal(requested.disclosure_id)))
        assert refused.refusal_reason is RefusalReason.REFUSED_BY_APPROVER
        last = self.ledger_entries(app, requested.disclosure_id)[-1]
        assert (last["kind"], last["actor"]) == ("disclosure_refused", "so:bea")
        # The reasons may name people: sealed in the store, never in the ledger.
        reasons = refusal(requested.disclosure_id)["reasons"]
        assert reasons.encode() not in self.raw_store(app)
        assert reasons not in json.dumps(last)

    def test_the_rules_refuse_a_restricted_childs_disclosure_at_request_and_at_approval(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        waiting = app.request_disclosure(RequestDisclosure.of(self.tax_request(child_id)))
        app.receive_rights_request(
            ReceiveRightsRequest.of(
                {
                    "actor": "dpo:1",
                    "child_id": child_id,
                    "request_type": "restriction",
                    "received_on": "2026-11-02",
                    "requester_name": "Synthetic Parent",
                }
            )
        )
        # Tax does not override a restriction (UK GDPR Art 18(2)): refused at once ...
        now = app.request_disclosure(RequestDisclosure.of(self.tax_request(child_id)))
        assert now.refusal_reason is RefusalReason.PROCESSING_RESTRICTED
        assert self.ledger_kinds(app, now.disclosure_id) == [
            ("disclosure_requested", "cw:alice"),
            ("disclosure_refused", RULES),
        ]
        # ... and the one requested before the restriction is refused at its approval,
        # naming the approver whose approval the rules refused.
        late = app.approve_disclosure(ApproveDisclosure.of(approval(waiting.disclosure_id)))
        assert (late.made, late.refusal_reason) == (False, RefusalReason.PROCESSING_RESTRICTED)
        entry = self.ledger_entries(app, waiting.disclosure_id)[-1]
        assert (entry["actor"], entry["triggered_by"]) == (RULES, "so:bea")
        # Detecting crime overrides it: that request waits for a second person.
        crime = app.request_disclosure(RequestDisclosure.of(self.request(child_id, CRIME)))
        assert crime.status == "requested"

    def test_the_rules_refuse_a_shredded_childs_disclosure_and_keep_no_necessity(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        self.destroy_key(app, child_id, ShredReason.ERASURE_APPROVED.value)
        app.blind_index.forget(child_id)
        app.record_personal_data_shredded(child_id, ShredReason.ERASURE_APPROVED, actor="job:shred")
        refused = app.request_disclosure(RequestDisclosure.of(self.request(child_id, CRIME)))
        assert refused.refusal_reason is RefusalReason.PERSONAL_DATA_SHREDDED
        stored = app.repository.event_store.get(refused.disclosure_id)
        assert [getattr(event, "personal", None) for event in stored] == [None, None]

    def test_a_child_shredded_while_a_request_waits_is_refused_at_its_approval(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        first = app.request_disclosure(RequestDisclosure.of(self.request(child_id, CRIME)))
        second = app.request_disclosure(RequestDisclosure.of(self.request(child_id, CRIME)))
        self.destroy_key(app, child_id, ShredReason.ERASURE_APPROVED.value)
        app.blind_index.forget(child_id)
        app.record_personal_data_shredded(child_id, ShredReason.ERASURE_APPROVED, actor="job:shred")
        late = app.approve_disclosure(ApproveDisclosure.of(approval(first.disclosure_id)))
        assert late.refusal_reason is RefusalReason.PERSONAL_DATA_SHREDDED
        # A second person may still refuse the other; the reasons have no key to go under.
        refused = app.refuse_disclosure(RefuseDisclosure.of(refusal(second.disclosure_id)))
        assert refused.refusal_reason is RefusalReason.REFUSED_BY_APPROVER
        stored = list(app.repository.event_store.get(second.disclosure_id))
        assert getattr(stored[-1], "personal", None) is None

    def test_crime_and_tax_bases_are_for_crime_and_tax_recipients(self, app: App) -> None:
        with pytest.raises(InvalidCommandError, match="Sch 2 para 2"):
            RequestDisclosure.of(self.request(uuid4(), CRIME, recipient_agency="gp"))

    def test_restriction_refuses_disclosure_unless_basis_overrides(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        # A restriction request arrives: processing is restricted at once.
        request_id = app.receive_rights_request(
            ReceiveRightsRequest.of(
                {
                    "actor": "dpo:1",
                    "child_id": child_id,
                    "request_type": "restriction",
                    "received_on": "2026-11-01",
                    "requester_name": "Synthetic Parent",
                }
            )
        )
        assert app.get_child(child_id).is_restricted
        # Public task does not override a restriction: refused, and the refusal is recorded.
        refused = app.make_disclosure(
            MakeDisclosure.of(
                self.disclosure(child_id, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")
            )
        )
        assert not refused.made
        assert refused.refusal_reason is RefusalReason.PROCESSING_RESTRICTED
        assert app.get_disclosure(refused.disclosure_id).outcome == "refused"
        # Safeguarding does.
        made = app.make_disclosure(
            MakeDisclosure.of(
                self.disclosure(child_id, "safeguarding_children_act_1989_s47_dpa_2018_sch1_para18")
            )
        )
        assert made.made
        # While the request is considered, the restriction cannot be lifted on its own.
        lift = LiftRestriction.of(
            {"actor": "dpo:1", "child_id": child_id, "request_id": request_id}
        )
        with pytest.raises(RestrictionUnderConsiderationError):
            app.lift_restriction(lift)
        # Upheld, it stays until lifted; lifting it is recorded too.
        app.verify_identity(
            VerifyIdentity.of(
                {"actor": "dpo:1", "request_id": request_id, "verified_on": "2026-11-01"}
            )
        )
        app.decide_request(
            DecideRequest.of(
                {
                    "actor": "dpo:1",
                    "request_id": request_id,
                    "decision": "fulfilled",
                    "decided_on": "2026-11-02",
                }
            )
        )
        assert app.get_child(child_id).is_restricted
        app.lift_restriction(lift)
        assert app.make_disclosure(
            MakeDisclosure.of(
                self.disclosure(child_id, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")
            )
        ).made

    def test_shredded_child_reads_as_marker_with_history(
        self, app: App, county: SyntheticCounty
    ) -> None:
        child_id = self.register(app, county)
        app.record_school_registration(
            RecordSchoolRegistration.of(
                {
                    "actor": "mis:1",
                    "child_id": child_id,
                    "school_urn": "117002",
                    "on_roll_from": "2020-09-01",
                }
            )
        )
        app.make_disclosure(
            MakeDisclosure.of(
                self.disclosure(child_id, "uk_gdpr_6_1_e_public_task_s436a_education_act_1996")
            )
        )
        # Destroy the key and record the shredding.
        self.destroy_key(app, child_id, ShredReason.ERASURE_APPROVED.value)
        app.blind_index.forget(child_id)
        app.record_personal_data_shredded(child_id, ShredReason.ERASURE_APPROVED, actor="job:shred")
        child = app.get_child(child_id)
        assert isinstance(child.details, Shredded)
        assert child.current_school() == "117002"
        with pytest.raises(ChildShreddedError):
            app.open_case(
                OpenCase.of(
                    {
                        "actor": "cw:1",
                        "child_id": child_id,
                        "source": "school",
                        "reason": "other",
                        "referred_on": "2026-11-01",
                    }
                )
            )
        # A later disclosure is refused and recorded.
        late = app.make_disclosure(MakeDisclosure.of(self.disclosure(child_id, "court_order")))
        assert late.refusal_reason is RefusalReason.PERSONAL_DATA_SHREDDED

    def test_no_personal_data_in_clear_in_the_stores(
        self, app: App, county: SyntheticCounty
    ) -> None:
        # Long, unusual names: a short generated one (three letters) could turn up
        # by chance in a store's bytes and fail this test for no fault.
        command = county.register_child(
            upn=county.upn(), legal_surname="Quaxtonbury", legal_forenames="Zephyrine Odalys"
        )
        child_id = app.register_child(RegisterChild.of(command))
        app.open_case(
            OpenCase.of(
                {
                    "actor": "cw:1",
                    "child_id": child_id,
                    "source": "member_of_public",
                    "reason": "never_registered",
                    "referred_on": "2026-10-01",
                    "referrer_name": "Quillon Parvex",
                    "notes": "Seen near Vexmoor Lane",
                }
            )
        )
        raw = self.raw_store(app)
        details = command["details"]
        secrets = [
            details["legal_surname"],
            details["legal_forenames"],
            details["date_of_birth"],
            details["upn"],
            details["address"]["line1"],
            details["address"]["postcode"],
            details["carers"][0]["phone"],
            "Quillon Parvex",
            "Vexmoor Lane",
        ]
        assert raw, "the raw store dump is empty: the scan would prove nothing"
        for secret in secrets:
            assert secret.encode() not in raw, (
                f"found a personal value in clear ({len(secret)} chars)"
            )
