"""What each upstream message type does to the domain: match the child, then commands.

Every handler runs inside the application's batch, takes the validated
envelope and payload, and returns the child it concerned. The sender is the
actor of every event it causes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application import CMEApplication
from consumers.contract import (
    AddressInformationV1,
    ChildIdentity,
    ContinuousAbsenceV1,
    EnquiryOutcomeV1,
    Envelope,
    HomeEducationV1,
    LostPupilV1,
    MessageType,
    MovedInFromLaV1,
    MovedOutToLaV1,
    NewPupilRegisteredV1,
    ReducedTimetableV1,
    ReferralV1,
    RemovalFromRollV1,
)
from domain import commands as c
from domain.errors import CaseNotFoundError, DomainError
from domain.values import Agency, EnquiryMethod, EnquiryOutcome, ReferralReason, ReferralSource

Handler = Callable[[CMEApplication, Envelope, Any], UUID]


class UnknownChildError(DomainError):
    """A response about a child the service does not know (it should quote our references)."""

    rule = "unknown_child"


def sender_ref(envelope: Envelope) -> str:
    return f"{envelope.sender}|{envelope.subject_ref}"


def find_child(app: CMEApplication, envelope: Envelope, child: ChildIdentity) -> UUID | None:
    """By the sender's own reference, else UPN, else surname and date of birth."""
    ref = sender_ref(envelope)
    found = app.find_child_by_sender_ref(ref)
    if found is not None:
        return found
    found = app.find_child_by_identity(
        child.upn, child.legal_surname, child.date_of_birth, child.legal_forenames
    )
    if found is not None:
        app.remember_sender_ref(found, ref)
    return found


def identity_entries(
    app: CMEApplication, envelope: Envelope, payload: Any
) -> list[tuple[str, bytes]]:
    """The blind-index entries a message may be matched on (for one lookup per batch)."""
    child = getattr(payload, "child", None)
    entries = [app.blind_index.sender_ref_entry(sender_ref(envelope))]
    if isinstance(child, ChildIdentity):
        entries += app.blind_index.entries(
            child.upn, child.legal_surname, child.date_of_birth, child.legal_forenames
        )
    return entries


def match_or_register(
    app: CMEApplication, envelope: Envelope, child: ChildIdentity, source: ReferralSource
) -> UUID:
    found = find_child(app, envelope, child)
    if found is not None:
        return found
    command = c.RegisterChild(actor=envelope.sender, details=child.to_details(), source=source)
    return app.register_children([command], sender_refs=[sender_ref(envelope)])[0]


def open_or_add_to_case(
    app: CMEApplication,
    envelope: Envelope,
    child_id: UUID,
    source: ReferralSource,
    reason: ReferralReason,
    on: Any,
    notes: str | None = None,
    referrer_name: str | None = None,
    referrer_contact: str | None = None,
) -> UUID:
    """A child has one open CME case at a time: new information joins it."""
    open_case = app.get_child(child_id).open_case_id
    if open_case is None:
        return app.open_case(
            c.OpenCase(
                actor=envelope.sender,
                child_id=child_id,
                source=source,
                reason=reason,
                referred_on=on,
                notes=notes,
                referrer_name=referrer_name,
                referrer_contact=referrer_contact,
            )
        )
    app.record_enquiry(
        c.RecordEnquiry(
            actor=envelope.sender,
            case_id=open_case,
            made_on=on,
            agency=_agency_of(source),
            method=EnquiryMethod.SECURE_PORTAL,
            outcome=EnquiryOutcome.INFORMATION_RECEIVED,
            notes=notes,
        )
    )
    return open_case


def _agency_of(source: ReferralSource) -> Agency:
    return {
        ReferralSource.HOUSING: Agency.HOUSING,
        ReferralSource.COUNCIL_TAX: Agency.COUNCIL_TAX,
        ReferralSource.OTHER_LOCAL_AUTHORITY: Agency.OTHER_LOCAL_AUTHORITY,
    }.get(source, Agency.SCHOOL if source is ReferralSource.SCHOOL else Agency.OTHER)


def referred(
    app: CMEApplication,
    envelope: Envelope,
    child: ChildIdentity,
    source: ReferralSource,
    reason: ReferralReason,
    on: Any,
    **case_details: str | None,
) -> UUID:
    """The notices that are a referral: find or register the child, then the case."""
    child_id = match_or_register(app, envelope, child, source)
    open_or_add_to_case(app, envelope, child_id, source, reason, on, **case_details)
    return child_id


def removal_from_roll(app: CMEApplication, envelope: Envelope, p: RemovalFromRollV1) -> UUID:
    child_id = match_or_register(app, envelope, p.child, ReferralSource.SCHOOL)
    app.remove_from_roll(
        c.RemoveFromRoll(
            actor=envelope.sender,
            child_id=child_id,
            school_urn=p.school_urn,
            removed_on=p.removed_on,
            deletion_ground=p.deletion_ground,
        )
    )
    if p.reg13.last_known_address is not None:
        app.change_address(
            c.ChangeAddress(
                actor=envelope.sender,
                child_id=child_id,
                address=p.reg13.last_known_address,
                effective_from=p.removed_on,
                source=ReferralSource.SCHOOL,
            )
        )
    if p.reg13.destination_la_code:
        app.record_move_to_another_authority(
            c.RecordMoveToAnotherAuthority(
                actor=envelope.sender,
                child_id=child_id,
                la_code=p.reg13.destination_la_code,
                moved_on=p.removed_on,
                confirmed=False,
            )
        )
    if not p.whereabouts_known and p.deletion_ground.requires_cme_notice:
        open_or_add_to_case(
            app,
            envelope,
            child_id,
            ReferralSource.SCHOOL,
            ReferralReason.REMOVED_FROM_ROLL_WHEREABOUTS_UNKNOWN,
            p.removed_on,
            notes=p.reg13.notes,
        )
    return child_id


def new_pupil_registered(app: CMEApplication, envelope: Envelope, p: NewPupilRegisteredV1) -> UUID:
    child_id = match_or_register(app, envelope, p.child, ReferralSource.SCHOOL)
    app.record_school_registration(
        c.RecordSchoolRegistration(
            actor=envelope.sender,
            child_id=child_id,
            school_urn=p.school_urn,
            on_roll_from=p.on_roll_from,
        )
    )
    return child_id


def continuous_absence(app: CMEApplication, envelope: Envelope, p: ContinuousAbsenceV1) -> UUID:
    return referred(
        app,
        envelope,
        p.child,
        ReferralSource.SCHOOL,
        ReferralReason.CONTINUOUS_ABSENCE,
        p.absent_since,
        notes=f"{p.school_days_absent} school days absent from {p.school_urn}",
    )


def reduced_timetable(app: CMEApplication, envelope: Envelope, p: ReducedTimetableV1) -> UUID:
    child_id = match_or_register(app, envelope, p.child, ReferralSource.SCHOOL)
    app.notify_reduced_timetable(
        c.NotifyReducedTimetable(
            actor=envelope.sender,
            child_id=child_id,
            school_urn=p.school_urn,
            hours_per_week=p.hours_per_week,
            starts_on=p.starts_on,
            review_on=p.review_on,
        )
    )
    return child_id


def home_education(app: CMEApplication, envelope: Envelope, p: HomeEducationV1) -> UUID:
    return referred(
        app,
        envelope,
        p.child,
        ReferralSource.SCHOOL,
        ReferralReason.ELECTIVE_HOME_EDUCATION_NOTICE,
        p.notified_on,
    )


def lost_pupil(app: CMEApplication, envelope: Envelope, p: LostPupilV1) -> UUID:
    return referred(
        app,
        envelope,
        p.child,
        ReferralSource.LOST_PUPIL_UPLOAD,
        ReferralReason.LOST_PUPIL,
        p.reported_on,
    )


def referral(app: CMEApplication, envelope: Envelope, p: ReferralV1) -> UUID:
    source = (
        ReferralSource.PROFESSIONAL
        if p.referrer_type == "professional"
        else ReferralSource.MEMBER_OF_PUBLIC
    )
    return referred(
        app,
        envelope,
        p.child,
        source,
        p.reason,
        p.referred_on,
        notes=p.concern,
        referrer_name=p.referrer_name,
        referrer_contact=p.referrer_contact,
    )


def address_information(app: CMEApplication, envelope: Envelope, p: AddressInformationV1) -> UUID:
    # Housing and council tax answer the CME team's enquiries: they never create a child.
    child_id = find_child(app, envelope, p.child)
    if child_id is None:
        msg = "address information names a child the service does not know"
        raise UnknownChildError(msg, field="payload.child")
    app.change_address(
        c.ChangeAddress(
            actor=envelope.sender,
            child_id=child_id,
            address=p.address,
            effective_from=p.effective_from,
            source=ReferralSource(p.source),
        )
    )
    return child_id


def moved_in_from_la(app: CMEApplication, envelope: Envelope, p: MovedInFromLaV1) -> UUID:
    return referred(
        app,
        envelope,
        p.child,
        ReferralSource.OTHER_LOCAL_AUTHORITY,
        ReferralReason.MOVED_INTO_AREA,
        p.moved_on,
        notes=f"moved in from LA {p.from_la_code}",
    )


def moved_out_to_la(app: CMEApplication, envelope: Envelope, p: MovedOutToLaV1) -> UUID:
    child_id = match_or_register(app, envelope, p.child, ReferralSource.OTHER_LOCAL_AUTHORITY)
    app.record_move_to_another_authority(
        c.RecordMoveToAnotherAuthority(
            actor=envelope.sender,
            child_id=child_id,
            la_code=p.to_la_code,
            moved_on=p.moved_on,
            confirmed=p.confirmed,
        )
    )
    return child_id


def enquiry_outcome(app: CMEApplication, envelope: Envelope, p: EnquiryOutcomeV1) -> UUID:
    try:
        case = app.get_case(p.case_id)
    except CaseNotFoundError:
        msg = "the enquiry names an unknown case"
        raise UnknownChildError(msg, field="payload.case_id") from None
    if case.child_id != p.child_id:
        msg = "the case quoted belongs to another child"
        raise UnknownChildError(msg, field="payload.child_id")
    app.record_enquiry(
        c.RecordEnquiry(
            actor=envelope.sender,
            case_id=p.case_id,
            made_on=p.made_on,
            agency=p.agency,
            method=p.method,
            outcome=p.outcome,
            notes=p.notes,
        )
    )
    return p.child_id


HANDLERS: dict[MessageType, Handler] = {
    MessageType.REMOVAL_FROM_ROLL: removal_from_roll,
    MessageType.NEW_PUPIL_REGISTERED: new_pupil_registered,
    MessageType.CONTINUOUS_ABSENCE: continuous_absence,
    MessageType.REDUCED_TIMETABLE: reduced_timetable,
    MessageType.HOME_EDUCATION: home_education,
    MessageType.LOST_PUPIL: lost_pupil,
    MessageType.REFERRAL: referral,
    MessageType.ADDRESS_INFORMATION: address_information,
    MessageType.MOVED_IN_FROM_LA: moved_in_from_la,
    MessageType.MOVED_OUT_TO_LA: moved_out_to_la,
    MessageType.ENQUIRY_OUTCOME: enquiry_outcome,
}
