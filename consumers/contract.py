"""The upstream contract, version 1: the envelope and one payload model per message type.

These pydantic models are the single source of truth: `cme schemas export`
writes their JSON Schemas to ``schemas/upstream/v1`` for upstream teams in any
language, and a test keeps the files in step with the models.

The envelope travels in clear and holds no personal data: ids, the type, the
sender, a time, and ``subject_ref`` (the sender's opaque reference for the
child, also the Kafka key, so one child's messages stay in order). The payload
is sealed with HPKE to the council's intake public key before it is
published (``consumers.sealed_payload``), so no topic holds personal data in
clear; the payload models below describe the payload *before* sealing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from domain.commands import LaCode, SchoolUrn, not_in_future, review_after_start
from domain.personal import Address, Carer, ChildDetails, Flags, Name, Note, ShortText, Upn
from domain.values import (
    Agency,
    DeletionGround,
    EnquiryMethod,
    EnquiryOutcome,
    ReferralReason,
    Sex,
)

CONTRACT_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
"""Larger messages are quarantined unread: no upstream notice needs more."""

MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,128}$")]
Sender = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}:[A-Za-z0-9._-]{1,64}$")]
SubjectRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{4,128}$")]


class MessageType(StrEnum):
    REMOVAL_FROM_ROLL = "removal_from_roll"
    NEW_PUPIL_REGISTERED = "new_pupil_registered"
    CONTINUOUS_ABSENCE = "continuous_absence"
    REDUCED_TIMETABLE = "reduced_timetable"
    HOME_EDUCATION = "home_education"
    LOST_PUPIL = "lost_pupil"
    REFERRAL = "referral"
    ADDRESS_INFORMATION = "address_information"
    MOVED_IN_FROM_LA = "moved_in_from_la"
    MOVED_OUT_TO_LA = "moved_out_to_la"
    ENQUIRY_OUTCOME = "enquiry_outcome"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class SealedPayload(_Model):
    """The payload, sealed with HPKE (RFC 9180) to the intake key ``kid``."""

    alg: Literal["HPKE-AUTH-X25519-SHA256-AES256GCM", "HPKE-X25519-SHA256-AES256GCM"] = Field(
        description="HPKE-AUTH-...: mode_auth, sealed with the sender's registered key; the "
        "base-mode name is recognised only to be refused as sender_not_authenticated"
    )
    kid: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    ct: Annotated[str, StringConstraints(min_length=16, max_length=MAX_MESSAGE_BYTES * 2)]


class Envelope(_Model):
    """What every upstream message looks like on the wire (JSON, UTF-8)."""

    message_id: MessageId = Field(description="Chosen by the sender, unique per sender")
    type: MessageType
    version: Annotated[int, Field(ge=1)]
    sender: Sender = Field(description="system-kind:instance, e.g. school-mis:117001")
    occurred_at: AwareDatetime
    subject_ref: SubjectRef = Field(
        description="The sender's opaque reference for the child (never a name, DoB or UPN)"
    )
    payload: SealedPayload

    def hpke_info(self) -> bytes:
        """Binds the sealed payload to this envelope: a payload moved elsewhere won't open."""
        return "|".join(
            (
                "cme.upstream.v1",
                self.message_id,
                self.type.value,
                str(self.version),
                self.sender,
                self.subject_ref,
            )
        ).encode()


class ChildIdentity(_Model):
    """Who the message is about, as the sender knows them."""

    legal_forenames: Name
    legal_surname: Name
    preferred_name: Name | None = None
    date_of_birth: date
    sex: Sex
    gender: ShortText | None = None
    ethnicity: ShortText | None = None
    upn: Upn | None = None
    address: Address | None = None
    carers: list[Carer] = Field(default_factory=list, max_length=10)
    flags: Flags = Field(default_factory=Flags)

    _check_born = field_validator("date_of_birth")(not_in_future("date of birth"))

    def to_details(self, notes: str | None = None) -> ChildDetails:
        return ChildDetails(**self.model_dump(), notes=notes)


class _AboutAChild(_Model):
    child: ChildIdentity


class Reg13Return(_Model):
    """What a school must tell the LA when it deletes a pupil (reg 13 return)."""

    destination_school_urn: SchoolUrn | None = None
    destination_la_code: LaCode | None = None
    last_known_address: Address | None = None
    notes: Note | None = None


class RemovalFromRollV1(_AboutAChild):
    school_urn: SchoolUrn
    removed_on: date
    deletion_ground: DeletionGround
    whereabouts_known: bool
    reg13: Reg13Return = Field(default_factory=Reg13Return)

    _check_removed = field_validator("removed_on")(not_in_future("date"))


class NewPupilRegisteredV1(_AboutAChild):
    school_urn: SchoolUrn
    on_roll_from: date


class ContinuousAbsenceV1(_AboutAChild):
    school_urn: SchoolUrn
    absent_since: date
    school_days_absent: Annotated[int, Field(ge=10, le=400)]

    _check_absent = field_validator("absent_since")(not_in_future("date"))


class ReducedTimetableV1(_AboutAChild):
    school_urn: SchoolUrn
    hours_per_week: Annotated[Decimal, Field(gt=0, lt=25, max_digits=4, decimal_places=1)]
    starts_on: date
    review_on: date

    @model_validator(mode="after")
    def _review_after_start(self) -> Self:
        review_after_start(self.starts_on, self.review_on)
        return self


class HomeEducationV1(_AboutAChild):
    school_urn: SchoolUrn | None = None
    notified_on: date


class LostPupilV1(_AboutAChild):
    last_school_urn: SchoolUrn | None = None
    reported_on: date


class ReferralV1(_AboutAChild):
    referrer_type: Literal["professional", "member_of_public"]
    referrer_name: Name
    referrer_contact: ShortText | None = None
    reason: ReferralReason
    concern: Note
    referred_on: date

    _check_referred = field_validator("referred_on")(not_in_future("date"))


class AddressInformationV1(_AboutAChild):
    address: Address
    effective_from: date
    source: Literal["housing", "council_tax"]


class MovedInFromLaV1(_AboutAChild):
    from_la_code: LaCode
    moved_on: date


class MovedOutToLaV1(_AboutAChild):
    to_la_code: LaCode
    moved_on: date
    confirmed: bool = False


class EnquiryOutcomeV1(_Model):
    """An agency's answer to an enquiry the CME team sent (it quotes our references)."""

    child_id: UUID
    case_id: UUID
    agency: Agency
    method: EnquiryMethod
    outcome: EnquiryOutcome
    made_on: date
    notes: Note | None = None


PAYLOADS: dict[tuple[MessageType, int], type[_Model]] = {
    (MessageType.REMOVAL_FROM_ROLL, 1): RemovalFromRollV1,
    (MessageType.NEW_PUPIL_REGISTERED, 1): NewPupilRegisteredV1,
    (MessageType.CONTINUOUS_ABSENCE, 1): ContinuousAbsenceV1,
    (MessageType.REDUCED_TIMETABLE, 1): ReducedTimetableV1,
    (MessageType.HOME_EDUCATION, 1): HomeEducationV1,
    (MessageType.LOST_PUPIL, 1): LostPupilV1,
    (MessageType.REFERRAL, 1): ReferralV1,
    (MessageType.ADDRESS_INFORMATION, 1): AddressInformationV1,
    (MessageType.MOVED_IN_FROM_LA, 1): MovedInFromLaV1,
    (MessageType.MOVED_OUT_TO_LA, 1): MovedOutToLaV1,
    (MessageType.ENQUIRY_OUTCOME, 1): EnquiryOutcomeV1,
}
