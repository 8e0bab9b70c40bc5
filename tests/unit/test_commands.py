"""Commands reject bad input naming the field and rule, and never echo the value."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.synthetic import SyntheticCounty
from domain import commands as c
from domain.errors import InvalidCommandError
from domain.personal import upn_check_letter

TODAY = date(2026, 11, 30)


def register(**detail_overrides: Any) -> dict[str, Any]:
    return SyntheticCounty(seed=3, today=TODAY).register_child(**detail_overrides)


def rejected(command_type: type[c.Command], data: Any) -> InvalidCommandError:
    with pytest.raises(InvalidCommandError) as caught:
        c.validate(command_type, data, today=TODAY)
    return caught.value


def test_valid_registration_passes() -> None:
    command = c.validate(c.RegisterChild, register(), today=TODAY)
    assert command.details.legal_surname


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"date_of_birth": "2027-01-01"}, "details", "value_error"),
        ({"date_of_birth": "1990-01-01"}, "details", "value_error"),
        ({"date_of_birth": "2015-02-30"}, "details.date_of_birth", "date_from_datetime_parsing"),
        ({"upn": "A123"}, "details.upn", "value_error"),
        ({"sex": "unknown-value"}, "details.sex", "enum"),
        ({"legal_surname": ""}, "details.legal_surname", "string_too_short"),
        ({"shoe_size": 5}, "details.*", "extra_forbidden"),
    ],
)
def test_bad_details_name_field_and_rule(overrides: dict[str, Any], field: str, rule: str) -> None:
    error = rejected(c.RegisterChild, register(**overrides))
    violation = error.violations()[0]
    assert violation.field == field
    assert violation.rule.startswith(rule.split("_from", maxsplit=1)[0])


def test_wrong_upn_check_letter_is_rejected() -> None:
    body = "919000000001"
    wrong = next(letter for letter in "ABCDEFGHJKLMNPQRTUVWXYZ" if letter != upn_check_letter(body))
    error = rejected(c.RegisterChild, register(upn=wrong + body))
    assert "check letter" in str(error)


def test_rejections_never_echo_personal_values() -> None:
    data = register(legal_surname="Zqxsecretname" * 20, upn="Z999SECRET999")
    error = rejected(c.RegisterChild, data)
    text = str(error) + repr(error.violations())
    assert "Zqxsecretname" not in text
    assert "SECRET" not in text


def test_an_unknown_members_name_is_never_echoed() -> None:
    """A member name can be someone's text: a carer's name typed as a key, say."""
    error = rejected(c.RegisterChild, register(zoe_quillfeather=5))
    text = str(error) + repr(error.violations())
    assert "quillfeather" not in text
    assert error.violations()[0].field == "details.*"
    assert error.violations()[0].rule == "extra_forbidden"


def test_reduced_timetable_review_after_start() -> None:
    data = {
        "actor": "mis:1",
        "child_id": str(uuid4()),
        "school_urn": "123456",
        "hours_per_week": "12.5",
        "starts_on": "2026-09-01",
        "review_on": "2026-08-01",
    }
    assert "review date" in str(rejected(c.NotifyReducedTimetable, data))


def test_disclosure_needs_a_second_person_and_a_known_basis() -> None:
    base = {
        "actor": "cw:1",
        "child_id": str(uuid4()),
        "recipient_agency": "police",
        "recipient_organisation": "Synthetic Constabulary",
        "purpose": "safeguarding",
        "lawful_basis": "safeguarding_children_act_1989_s47_dpa_2018_sch1_para18",
        "categories": ["names", "address"],
        "requested_by": "cw:1",
        "approved_by": "cw:1",
        "disclosed_on": "2026-11-01",
    }
    assert "approved by someone other" in str(rejected(c.MakeDisclosure, base))
    error = rejected(c.MakeDisclosure, {**base, "approved_by": "mgr:1", "lawful_basis": "because"})
    assert error.violations()[0].field == "lawful_basis"


def test_refusal_must_explain() -> None:
    data = {
        "actor": "dpo:1",
        "request_id": str(uuid4()),
        "decision": "refused",
        "decided_on": "2026-11-01",
    }
    assert "explain" in str(rejected(c.DecideRequest, data))


def test_removal_in_the_future_is_rejected() -> None:
    data = {
        "actor": "mis:1",
        "child_id": str(uuid4()),
        "school_urn": "123456",
        "removed_on": (TODAY + timedelta(days=1)).isoformat(),
        "deletion_ground": "moved_away",
    }
    assert rejected(c.RemoveFromRoll, data).violations()[0].field == "removed_on"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.none() | st.text() | st.integers() | st.booleans()))
def test_arbitrary_input_is_rejected_cleanly(data: dict[str, Any]) -> None:
    # Whatever arrives, the answer is a command or an InvalidCommandError, never a crash.
    try:
        c.validate(c.RegisterChild, data, today=TODAY)
    except InvalidCommandError as error:
        assert error.violations()


def test_an_id_that_is_not_a_uuid_is_named_without_repeating_it() -> None:
    """Pydantic's own message quotes the first bad character of what was sent."""
    error = rejected(c.CloseRequest, {"actor": "dpo:1", "request_id": "Plimworth"})
    violation = next(v for v in error.violations() if v.field == "request_id")
    assert (violation.rule, violation.message) == ("uuid_parsing", "not a UUID")


def test_a_refusal_without_reasons_names_the_explanation() -> None:
    command = {
        "actor": "dpo:1",
        "request_id": str(uuid4()),
        "decision": "refused",
        "decided_on": "2026-11-01",
    }
    assert [v.field for v in rejected(c.DecideRequest, command).violations()] == ["explanation"]


CRIME = "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime"
OFFENDERS = "dpa_2018_sch2_pt1_para2_1_b_apprehension_prosecution"
TAX = "dpa_2018_sch2_pt1_para2_1_c_assessment_collection_of_tax"


@pytest.mark.parametrize(
    ("basis", "agency", "purpose", "says"),
    [
        (
            "dpa_2018_sch2_pt1_para2_1_c_assessment_collection_of_tax",
            "police",
            "tax",
            "council_tax",
        ),
        (
            "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime",
            "police",
            "analytics",
            "serves",
        ),
        (
            "dpa_2018_sch2_pt1_para2_1_b_apprehension_prosecution",
            "council_tax",
            "prevent_crime",
            "for",
        ),
        (
            "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime",
            "school",
            "locate_child",
            "for",
        ),
    ],
    ids=[
        "tax to the police",
        "analytics as crime",
        "offenders to council tax",
        "crime to a school",
    ],
)
def test_each_crime_and_tax_exemption_serves_its_own_purposes_and_recipients(
    basis: str, agency: str, purpose: str, says: str
) -> None:
    """DPA 2018 Sch 2 para 2 (a), (b), (c) each cover what they name; they were accepted alike."""
    request = {
        "actor": "cw:1",
        "child_id": str(uuid4()),
        "recipient_agency": agency,
        "recipient_organisation": "Synthetic Recipient",
        "purpose": purpose,
        "lawful_basis": basis,
        "categories": ["address"],
        "necessity": "The recipient needs the last known address for this purpose",
        "requested_on": TODAY.isoformat(),
    }
    error = rejected(c.RequestDisclosure, request)
    assert says in str(error)
    fitting = {
        TAX: ("council_tax", "tax"),
        CRIME: ("police", "prevent_crime"),
        OFFENDERS: ("police", "locate_child"),
    }[basis]
    request.update(recipient_agency=fitting[0], purpose=fitting[1])
    assert c.RequestDisclosure.of(request).lawful_basis.value == basis


def test_a_support_decision_names_a_rule_exactly_when_a_rule_made_it() -> None:
    """A person's decision naming a rule read in the timeline as both."""
    base = {
        "actor": "cw:1",
        "case_id": str(uuid4()),
        "decision": "refer-to-education-welfare",
        "reason": "Sixty days of absence",
        "decided_by": "cw:1",
    }
    assert "must name the rule" in str(
        rejected(c.RecordSupportDecision, {**base, "automated": True})
    )
    person_with_rule = {**base, "automated": False, "rule_id": "rule-9"}
    assert "a person's decision has none" in str(
        rejected(c.RecordSupportDecision, person_with_rule)
    )
    assert c.RecordSupportDecision.of({**base, "automated": True, "rule_id": "rule-9"}).automated
