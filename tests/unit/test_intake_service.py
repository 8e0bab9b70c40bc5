"""Intake on the in-memory store: effects once, or quarantine with a reason."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.envelopes import LineRejectedError, seal_line
from domain import commands as c
from domain.commands import RectifyChildDetails
from domain.markers import Shredded
from domain.upstream_message import UpstreamMessage, upstream_message_id
from domain.values import CaseStatus
from tests.factories import in_memory_app
from tests.intake_support import IntakeHarness, hostile_records


@pytest.fixture
def harness() -> IntakeHarness:
    return IntakeHarness(in_memory_app())


def test_every_message_type_has_its_effect(harness: IntakeHarness) -> None:
    traffic = harness.traffic
    child = traffic.new_child()
    lines = traffic.one_of_each(child)
    lines[0]["payload"].update(whereabouts_known=False, deletion_ground="moved_away")
    outcome = harness.run([harness.seal(line) for line in lines])
    assert outcome.quarantined == [], [r.reason for r in outcome.quarantined]
    assert outcome.applied == len(lines)
    # Every notice about the same child matched one record.
    app = harness.app
    upn = child["identity"]["upn"]
    child_id = app.find_child_by_upn(upn) if upn else None
    child_id = child_id or app.find_child_by_sender_ref(f"{lines[0]['sender']}|{child['ref']}")
    assert child_id is not None
    record = app.get_child(child_id)
    assert record.reduced_timetable is not None
    assert record.move is not None and record.move.la_code == lines[8]["payload"]["to_la_code"]
    address = record.current_details().address
    assert address is not None
    assert address.postcode == lines[4]["payload"]["address"]["postcode"]
    # One case, opened by the removal; the four later notices joined it.
    case = app.get_case(record.open_case_id)  # type: ignore[arg-type]
    assert case.reason == "removed_from_roll_whereabouts_unknown"
    assert case.status is CaseStatus.ENQUIRIES_IN_PROGRESS
    assert len(case.enquiries) == 4


def test_enquiry_outcome_is_recorded_on_the_case(harness: IntakeHarness) -> None:
    line = harness.traffic.removal_from_roll(harness.traffic.new_child())
    line["payload"]["whereabouts_known"] = False
    line["payload"]["deletion_ground"] = "continuous_absence_enquiries_failed"
    harness.run([harness.seal(line)])
    child_id = harness.app.find_child_by_sender_ref(f"{line['sender']}|{line['subject_ref']}")
    assert child_id is not None
    case_id = harness.app.get_child(child_id).open_case_id
    assert case_id is not None
    reply = harness.traffic.line(
        "enquiry_outcome",
        {
            "child_id": str(child_id),
            "case_id": str(case_id),
            "agency": "gp",
            "method": "email",
            "outcome": "located",
            "made_on": "2026-11-01",
        },
        {"ref": line["subject_ref"]},
        "gp-practice:e82001",
    )
    outcome = harness.run([harness.seal(reply)])
    assert outcome.applied == 1
    assert harness.app.get_case(case_id).enquiries[-1].agency == "gp"


def test_the_same_message_twice_has_one_effect(harness: IntakeHarness) -> None:
    raw = harness.seal(harness.traffic.referral())
    first = harness.run([raw, raw])
    assert (first.applied, first.duplicates) == (1, 1)
    # Published again later: recognised across batches.
    again = harness.run([raw])
    assert (again.applied, again.duplicates) == (0, 1)
    assert again.quarantined == []


def test_redelivered_offsets_are_skipped(harness: IntakeHarness) -> None:
    raws = [harness.seal(harness.traffic.referral()) for _ in range(3)]
    batch = [harness.inbound(raw) for raw in raws]
    from eventsourcing.persistence import Tracking

    tracking = Tracking("intake:t:0", batch[-1].offset)
    assert harness.service.process(batch, tracking).applied == 3
    assert harness.app.tracked_position("intake:t:0") == batch[-1].offset
    # After a crash before the Kafka commit, the same poll comes back.
    repeat = harness.service.process(batch, tracking)
    assert (repeat.applied, repeat.duplicates) == (0, 3)


def poison_cases(h: IntakeHarness) -> list[tuple[str, bytes, str, str]]:
    t = h.traffic
    future_dob = t.referral()
    future_dob["payload"]["child"]["date_of_birth"] = "2999-01-01"
    unknown_ground = t.removal_from_roll()
    unknown_ground["payload"]["deletion_ground"] = "ran_away_to_sea"
    plain_payload = json.loads(h.seal(t.referral()))
    plain_payload["payload"]["ct"] = "eyJjaGlsZCI6IHsibmFtZSI6ICJBbm9ueW1vdXMifX0="
    impossible = t.referral()
    impossible["payload"]["referred_on"] = "2026-02-30"
    stranger = t.address_information(t.new_child())
    return [
        ("not json", b"\xff\xfe not json", "not_json", ""),
        ("a list", b"[1, 2, 3]", "invalid_envelope", ""),
        (
            "no message id",
            h.bad_json(t.referral(), message_id=None),
            "invalid_envelope",
            "message_id",
        ),
        (
            "unknown type",
            h.bad_json(t.referral(), type="tax_return"),
            "unknown_type_version",
            "type",
        ),
        ("unknown version", h.bad_json(t.referral(), version=9), "unknown_type_version", "version"),
        ("too large", b"{" + b" " * 70_000 + b"}", "too_large", ""),
        ("unsealed payload", json.dumps(plain_payload).encode(), "payload_unreadable", "payload"),
        (
            "moved payload",
            h.bad_json(t.referral(), subject_ref="someone-else"),
            "sender_not_authenticated",
            "payload",
        ),
        (
            "future dob",
            h.seal_unchecked(future_dob),
            "invalid_payload",
            "payload.child.date_of_birth",
        ),
        ("impossible date", h.seal_unchecked(impossible), "invalid_payload", "payload.referred_on"),
        (
            "unknown ground",
            h.seal_unchecked(unknown_ground),
            "invalid_payload",
            "payload.deletion_ground",
        ),
        ("unknown child", h.seal(stranger), "domain_rejected:unknown_child", "payload.child"),
    ]


def test_poison_is_quarantined_and_good_messages_around_it_applied(harness: IntakeHarness) -> None:
    cases = poison_cases(harness)
    goods = [harness.traffic.referral(harness.traffic.new_child()) for _ in cases]
    raws: list[bytes] = []
    for (_, poison, _, _), good in zip(cases, goods, strict=True):
        raws += [harness.seal(good), poison]
    outcome = harness.run(raws)
    assert outcome.applied == len(goods)
    reasons = {r.source_offset: r.reason for r in outcome.quarantined}
    for index, (name, _, code, field) in enumerate(cases):
        reason = reasons[2 * index + 2]
        assert reason.code == code, name
        assert reason.field == field, name
    # The good messages were all applied.
    for good in goods:
        assert harness.app.find_child_by_sender_ref(f"{good['sender']}|{good['subject_ref']}")


def test_quarantine_records_hold_no_personal_data_and_keep_the_original(
    harness: IntakeHarness,
) -> None:
    line = harness.traffic.referral()
    line["payload"]["child"]["date_of_birth"] = "2999-01-01"
    unsealed = json.dumps(line).encode()  # a sender that forgot to seal: personal data in clear
    outcome = harness.run([unsealed])
    (record,) = outcome.quarantined
    stored = record.to_json()
    assert line["payload"]["child"]["legal_surname"].encode() not in stored
    assert record.reason.code == "invalid_envelope"
    original = harness.cipher.original(record)
    assert not isinstance(original, Shredded)
    assert original[0] == unsealed
    # Once the quarantine month's key is destroyed, the original is gone too.
    from uuid import UUID

    harness.app.data_keys.destroy(UUID(record.key_id), reason="quarantine_retention")
    assert isinstance(harness.cipher.original(record), Shredded)


def test_messages_are_applied_in_order(harness: IntakeHarness) -> None:
    traffic = harness.traffic
    child = traffic.new_child()
    joined = traffic.new_pupil_registered(child)
    left = traffic.removal_from_roll(child)
    left["payload"]["school_urn"] = joined["payload"]["school_urn"]
    left["payload"]["removed_on"] = joined["payload"]["on_roll_from"]
    harness.run([harness.seal(joined), harness.seal(left)])
    child_id = harness.app.find_child_by_sender_ref(f"{joined['sender']}|{child['ref']}")
    record = harness.app.get_child(child_id)  # type: ignore[arg-type]
    assert record.current_school() is None
    assert record.schools[-1].removed_on is not None


def test_publisher_rejects_locally_with_the_consumer_reason(harness: IntakeHarness) -> None:
    line = harness.traffic.referral()
    line["payload"]["child"]["upn"] = "A123"
    with pytest.raises(LineRejectedError) as caught:
        seal_line(line, harness.keys.current, harness.keys.public_key(), harness.senders)
    assert caught.value.reason.code == "invalid_payload"
    assert caught.value.reason.field == "payload.child.upn"


def test_the_dedup_record_names_no_person(harness: IntakeHarness) -> None:
    line = harness.traffic.referral()
    harness.run([harness.seal(line)])
    message: UpstreamMessage = harness.app.repository.get(
        upstream_message_id(line["sender"], line["message_id"])
    )
    assert message.message_type == "referral"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=300)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda doc: json.dumps(doc).encode())
)
def test_fuzzed_input_never_crashes_the_consumer(harness: IntakeHarness, raw: bytes) -> None:
    outcome = harness.run([raw], track=False)
    assert outcome.applied + len(outcome.quarantined) == 1


def test_hostile_records_are_quarantined_and_the_next_good_one_applied(
    harness: IntakeHarness,
) -> None:
    cases = hostile_records(harness, harness.traffic)
    batch = []
    goods = []
    for name, value, key, _, _ in cases:
        good = harness.traffic.referral(harness.traffic.new_child())
        goods.append(good)
        batch += [harness.inbound(value, key), harness.inbound(harness.seal(good))]
        assert name
    outcome = harness.service.process(batch, None)
    reasons = {r.source_offset: r.reason for r in outcome.quarantined}
    for index, (name, _, _, code, field) in enumerate(cases):
        reason = reasons.get(batch[2 * index].offset)
        assert reason is not None, f"{name}: not quarantined"
        assert (reason.code, reason.field) == (code, field), name
        assert "\x00" not in reason.message
    assert outcome.applied == len(goods)
    for good in goods:
        assert harness.app.find_child_by_sender_ref(f"{good['sender']}|{good['subject_ref']}")


def test_a_nul_in_a_caseworker_command_is_refused_before_it_is_stored(
    harness: IntakeHarness,
) -> None:
    from domain.errors import InvalidCommandError

    child = harness.traffic.referral(harness.traffic.new_child())
    harness.run([harness.seal(child)])
    child_id = harness.app.find_child_by_sender_ref(f"{child['sender']}|{child['subject_ref']}")
    assert child_id is not None
    details = harness.app.get_child(child_id).current_details().model_dump(mode="json")
    details["legal_surname"] = "A\x00B"
    with pytest.raises(InvalidCommandError) as caught:
        harness.app.rectify_child_details(
            RectifyChildDetails.of({"child_id": child_id, "actor": "officer:1", "details": details})
        )
    assert "details.legal_surname" in str(caught.value)
    assert "control characters" in str(caught.value)
    assert "A\x00B" not in str(caught.value)


def test_a_message_is_applied_only_as_sealed_by_its_registered_sender(
    harness: IntakeHarness,
) -> None:
    """School B knows the intake public key and has its own registered key; it claims to be A."""
    t = harness.traffic
    school_a = t.referral(t.new_child())
    harness.seal(school_a)  # A sends once: its key is registered now
    school_b = t.referral(t.new_child())
    school_b["sender"] = "school-mis:999001"
    harness.seal(school_b)  # so is B's
    forged = t.referral(t.new_child())
    forged["sender"] = school_a["sender"]
    as_a_by_b = harness.seal_plaintext(
        forged,
        json.dumps(forged["payload"]).encode(),
        sealed_by=harness.senders[school_b["sender"]],
    )
    unregistered = t.referral(t.new_child())
    unregistered["sender"] = "school-mis:999002"
    nobody = X25519PrivateKey.generate()
    by_nobody = harness.seal_plaintext(unregistered, b"{}", sealed_by=nobody)
    base_mode = harness.seal_base_mode(t.referral(t.new_child()))

    outcome = harness.run([as_a_by_b, by_nobody, base_mode])

    assert outcome.applied == 0
    assert [(r.reason.code, r.reason.field) for r in outcome.quarantined] == [
        ("sender_not_authenticated", "payload"),
        ("sender_not_authenticated", "sender"),
        ("sender_not_authenticated", "payload.alg"),
    ]
    assert harness.run([harness.seal(forged)]).applied == 1  # A itself may say the same


def test_a_revoked_senders_new_messages_are_quarantined(harness: IntakeHarness) -> None:
    t = harness.traffic
    first = t.referral(t.new_child())
    assert harness.run([harness.seal(first)]).applied == 1
    later = t.referral(t.new_child())
    later["sender"] = first["sender"]
    sealed_before_revocation = harness.seal(later)
    harness.app.revoke_sender(
        c.RevokeSender(actor="staff:dpo", sender=first["sender"], reason="contract ended")
    )

    outcome = harness.run([sealed_before_revocation])

    assert outcome.applied == 0
    (record,) = outcome.quarantined
    assert (record.reason.code, record.reason.field) == ("sender_not_authenticated", "sender")
    registry = harness.app.sender_registry()
    assert registry is not None
    assert registry.revoked == {first["sender"]: "contract ended"}
