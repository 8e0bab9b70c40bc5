"""Commands: imperative pydantic models, validated before they reach an aggregate.

:func:`validate` turns a pydantic error into an :class:`InvalidCommandError`
that names each field and rule but never echoes the rejected value, which may
be personal data. Rules that need "today" (a date of birth in the future) read
it from the validation context, so tests and the shredding job control the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Self, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.errors import InvalidCommandError, Violation
from domain.personal import (
    Address,
    ChildDetails,
    Name,
    Note,
    ShortText,
    add_years,
    check_text,
)
from domain.values import (
    Agency,
    CaseOutcome,
    CaseStatus,
    ClockStopReason,
    DataCategory,
    DeletionGround,
    EnquiryMethod,
    EnquiryOutcome,
    LawfulBasis,
    Purpose,
    ReferralReason,
    ReferralSource,
    RequestDecision,
    RightsRequestType,
)

ACTOR_PATTERN = r"^[A-Za-z0-9._:@/-]{1,80}$"
Actor = Annotated[str, StringConstraints(pattern=ACTOR_PATTERN)]
"""Who did it: a staff user id or an upstream system id (never a child's data)."""

SchoolUrn = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
LaCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}$")]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,80}$")]


def today_of(info: ValidationInfo) -> date | None:
    """The validation's "today", from the context; None when the caller gave none.

    A command built by a caller (``RegisterChild(...)`` or ``RegisterChild.of(data)``)
    is checked for shape; the rules that depend on the date run when the use
    case validates it again against the application's own clock.
    """
    context = info.context or {}
    today = context.get("today")
    return today if isinstance(today, date) else None


def not_in_future(what: str) -> Callable[[date, ValidationInfo], date]:
    """A field validator rejecting dates after today (``what`` names the date)."""

    def check(value: date, info: ValidationInfo) -> date:
        today = today_of(info)
        if today is not None and value > today:
            msg = f"{what} is in the future"
            raise ValueError(msg)
        return value

    return check


def review_after_start(starts_on: date, review_on: date) -> None:
    """A reduced timetable is reviewed after it starts (the command's and the contract's rule)."""
    if review_on <= starts_on:
        msg = "review date must be after the start date"
        raise ValueError(msg)


class Command(BaseModel):
    """Base of all commands: immutable, no unknown fields, an actor on every one."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True
    )

    actor: Actor

    @classmethod
    def of(cls, data: Mapping[str, Any] | Command) -> Self:
        """Parse untrusted data into this command, or raise naming every field and rule.

        The use case checks the date rules again against its own clock.
        """
        return validate(cls, data)


def _plausible_birth(details: ChildDetails, info: ValidationInfo) -> ChildDetails:
    """Not born in the future, and under 25: a child of 25 has nothing left to keep.

    A correction is held to it too: a slip of a century in a corrected date
    would have the next retention run destroy the child's record.
    """
    today = today_of(info)
    if today is None:
        return details
    if details.date_of_birth > today:
        msg = "date of birth is in the future"
        raise ValueError(msg)
    if add_years(details.date_of_birth, 25) <= today:
        msg = (
            "the child would be 25 or older, past the retention period; if that is right, "
            "decide an erasure rather than correct the date"
        )
        raise ValueError(msg)
    return details


class RegisterChild(Command):
    details: ChildDetails
    source: ReferralSource

    _check_birth = field_validator("details")(_plausible_birth)


class RectifyChildDetails(Command):
    child_id: UUID
    details: ChildDetails
    request_id: UUID | None = None
    confirm_destruction_date: date | None = None
    """The new destruction date, repeated by whoever corrects a date of birth that moves it."""

    _check_birth = field_validator("details")(_plausible_birth)


class ChangeAddress(Command):
    child_id: UUID
    address: Address
    effective_from: date
    source: ReferralSource | Agency


class RecordSchoolRegistration(Command):
    child_id: UUID
    school_urn: SchoolUrn
    on_roll_from: date


class RemoveFromRoll(Command):
    child_id: UUID
    school_urn: SchoolUrn
    removed_on: date
    deletion_ground: DeletionGround

    _check_removed = field_validator("removed_on")(not_in_future("removal date"))


class NotifyReducedTimetable(Command):
    child_id: UUID
    school_urn: SchoolUrn
    hours_per_week: Annotated[Decimal, Field(gt=0, lt=25, max_digits=4, decimal_places=1)]
    starts_on: date
    review_on: date

    @model_validator(mode="after")
    def _review_after_start(self) -> Self:
        review_after_start(self.starts_on, self.review_on)
        return self


class RecordMoveToAnotherAuthority(Command):
    child_id: UUID
    la_code: LaCode
    moved_on: date
    confirmed: bool = False


class RecordMoveAbroad(Command):
    child_id: UUID
    moved_on: date
    destination_country: ShortText
    confirmed: bool = False


class PlaceLegalHold(Command):
    child_id: UUID
    hold_id: UUID
    reason: Annotated[
        str, StringConstraints(min_length=3, max_length=500), AfterValidator(check_text)
    ]
    authority: Annotated[
        str, StringConstraints(min_length=3, max_length=200), AfterValidator(check_text)
    ]


class ReleaseLegalHold(Command):
    child_id: UUID
    hold_id: UUID


class LiftRestriction(Command):
    child_id: UUID
    request_id: UUID | None = None


class OpenCase(Command):
    child_id: UUID
    source: ReferralSource
    reason: ReferralReason
    referred_on: date
    referrer_name: Name | None = None
    referrer_contact: ShortText | None = None
    notes: Note | None = None
    assigned_officer: Actor | None = None

    _check_referred = field_validator("referred_on")(not_in_future("referral date"))


class ReferChild(Command):
    """A referral by phone or email: find the child (or register them), then open a case."""

    details: ChildDetails
    source: ReferralSource
    reason: ReferralReason
    referred_on: date
    referrer_name: Name | None = None
    referrer_contact: ShortText | None = None
    notes: Note | None = None

    _check_referred = field_validator("referred_on")(not_in_future("referral date"))
    # Checked here as a registration checks it, so one answer lists both dates' problems.
    _check_birth = field_validator("details")(_plausible_birth)

    @model_validator(mode="after")
    def _referred_after_birth(self) -> Self:
        if self.referred_on < self.details.date_of_birth:
            msg = "the referral date is before the child's date of birth"
            raise ValueError(msg)
        return self


class RecordEnquiry(Command):
    case_id: UUID
    made_on: date
    agency: Agency
    method: EnquiryMethod
    outcome: EnquiryOutcome
    notes: Note | None = None
    joint_with_school: bool = False
    """Made together with the child's school (statutory guidance asks for joint enquiries)."""

    _check_made = field_validator("made_on")(not_in_future("enquiry date"))


class ChangeCaseStatus(Command):
    case_id: UUID
    status: CaseStatus
    changed_on: date

    _check_changed = field_validator("changed_on")(not_in_future("status date"))

    @field_validator("status")
    @classmethod
    def _not_closed(cls, status: CaseStatus) -> CaseStatus:
        if status is CaseStatus.CLOSED:
            msg = "close a case with CloseCase, which records the outcome"
            raise ValueError(msg)
        return status


class RecordSupportDecision(Command):
    case_id: UUID
    decision: Reference
    reason: Note
    decided_by: Actor
    automated: bool = False
    rule_id: Reference | None = None

    @model_validator(mode="after")
    def _automated_names_rule(self) -> Self:
        if self.automated and not self.rule_id:
            msg = "an automated decision must name the rule that made it"
            raise ValueError(msg)
        if self.rule_id and not self.automated:
            msg = "rule_id names the rule of an automated decision; a person's decision has none"
            raise ValueError(msg)
        return self


class ReviewAutomatedDecision(Command):
    case_id: UUID
    decision_id: UUID
    upheld: bool
    notes: Note


class AssignOfficer(Command):
    case_id: UUID
    officer: Actor
    next_action_due: date | None = None


class CloseCase(Command):
    case_id: UUID
    outcome: CaseOutcome
    closed_on: date

    _check_closed = field_validator("closed_on")(not_in_future("closing date"))


class MakeDisclosure(Command):
    child_id: UUID
    case_id: UUID | None = None
    recipient_agency: Agency
    recipient_organisation: ShortText
    purpose: Purpose
    lawful_basis: LawfulBasis
    categories: Annotated[list[DataCategory], Field(min_length=1)]
    requested_by: Actor
    approved_by: Actor
    disclosed_on: date
    summary: Note | None = None

    @model_validator(mode="after")
    def _four_eyes(self) -> Self:
        if self.requested_by == self.approved_by:
            msg = "a disclosure must be approved by someone other than its requester"
            raise ValueError(msg)
        return self


class RecordInformationReceived(Command):
    child_id: UUID
    case_id: UUID | None = None
    source_agency: Agency
    source_organisation: ShortText
    categories: Annotated[list[DataCategory], Field(min_length=1)]
    received_on: date
    content: Note | None = None

    _check_received = field_validator("received_on")(not_in_future("date received"))


SCHEDULE_2_PARA_2: dict[LawfulBasis, tuple[frozenset[Purpose], frozenset[Agency]]] = {
    LawfulBasis.CRIME_PREVENTION: (
        frozenset({Purpose.PREVENT_CRIME, Purpose.LOCATE_CHILD, Purpose.SAFEGUARDING}),
        frozenset({Agency.POLICE, Agency.HOME_OFFICE, Agency.PROBATION, Agency.COUNCIL_TAX}),
    ),
    LawfulBasis.APPREHENSION_PROSECUTION: (
        frozenset({Purpose.PREVENT_CRIME, Purpose.LOCATE_CHILD}),
        frozenset({Agency.POLICE, Agency.HOME_OFFICE, Agency.PROBATION}),
    ),
    LawfulBasis.TAX_ASSESSMENT: (frozenset({Purpose.TAX}), frozenset({Agency.COUNCIL_TAX})),
}
"""(a) crime, (b) offenders, (c) tax: which purposes each serves, and for which recipients.

The exemption covers what the sub-paragraph names and no more: tax data to
the police, or analytics under the crime exemption, is not what it allows.
"""


class RequestDisclosure(Command):
    """A caseworker asks to share a child's data; a senior officer decides."""

    child_id: UUID
    case_id: UUID | None = None
    recipient_agency: Agency
    recipient_organisation: ShortText
    purpose: Purpose
    lawful_basis: LawfulBasis
    categories: Annotated[list[DataCategory], Field(min_length=1)]
    necessity: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=20, max_length=4000),
        AfterValidator(check_text),
    ]
    """Why these categories are necessary for this purpose (DPA 2018 Sch 2 para 2 asks it)."""
    requested_on: date

    _check_requested = field_validator("requested_on")(not_in_future("request date"))

    @model_validator(mode="after")
    def _crime_and_tax_bases_fit_the_purpose_and_recipient(self) -> Self:
        if self.lawful_basis not in SCHEDULE_2_PARA_2:
            return self
        purposes, recipients = SCHEDULE_2_PARA_2[self.lawful_basis]
        for given, allowed, says in (
            (
                self.recipient_agency,
                recipients,
                "is for disclosures to {}; choose another basis for this recipient",
            ),
            (
                self.purpose,
                purposes,
                "serves the purposes {}; choose the basis that fits this purpose",
            ),
        ):
            if given not in allowed:
                told = says.format(", ".join(sorted(allowed)))
                msg = f"{self.lawful_basis.value} (DPA 2018 Sch 2 para 2) {told}"
                raise ValueError(msg)
        return self


class ApproveDisclosure(Command):
    disclosure_id: UUID
    approved_on: date

    _check_approved = field_validator("approved_on")(not_in_future("approval date"))


class RefuseDisclosure(Command):
    disclosure_id: UUID
    refused_on: date
    reasons: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=10, max_length=4000),
        AfterValidator(check_text),
    ]

    _check_refused = field_validator("refused_on")(not_in_future("refusal date"))


class ReceiveRightsRequest(Command):
    child_id: UUID
    request_type: RightsRequestType
    received_on: date
    requester_name: Name
    requester_contact: ShortText | None = None
    details: Note | None = None
    restrict_meanwhile: bool = False
    """An erasure request asks that the data not be used while it is considered.

    The privacy notice promises it for a request to correct or delete: a
    correction restricts in any case (Art 18(1)(a)), an erasure when asked.
    """

    _check_received = field_validator("received_on")(not_in_future("received date"))

    @model_validator(mode="after")
    def _restricting_on_request_is_for_erasure(self) -> Self:
        if self.restrict_meanwhile and self.request_type is not RightsRequestType.ERASURE:
            msg = (
                "restrict_meanwhile is asked with an erasure request; rectification, objection "
                "and restriction requests restrict processing anyway, the others cannot"
            )
            raise ValueError(msg)
        return self


class VerifyIdentity(Command):
    request_id: UUID
    verified_on: date

    # A step dated ahead would move the statutory deadline (and hide a late request).
    _check_verified = field_validator("verified_on")(not_in_future("identity check date"))


class StopClock(Command):
    request_id: UUID
    stopped_on: date
    reason: ClockStopReason

    _check_stopped = field_validator("stopped_on")(not_in_future("date the clock stopped"))


class ResumeClock(Command):
    request_id: UUID
    resumed_on: date

    _check_resumed = field_validator("resumed_on")(not_in_future("date the clock resumed"))


class ExtendRequest(Command):
    request_id: UUID
    months: Annotated[int, Field(ge=1, le=2)]
    reason: Note


class DecideRequest(Command):
    request_id: UUID
    decision: RequestDecision
    decided_on: date
    explanation: Note | None = Field(default=None, validate_default=True)

    _check_decided = field_validator("decided_on")(not_in_future("decision date"))

    @field_validator("explanation")
    @classmethod
    def _refusal_explained(cls, explanation: str | None, info: ValidationInfo) -> str | None:
        decision = info.data.get("decision")
        if decision not in (None, RequestDecision.FULFILLED) and not explanation:
            msg = "a refusal or partial decision must explain why (the privacy notice promises it)"
            raise ValueError(msg)
        return explanation


class CloseRequest(Command):
    request_id: UUID
    closed_on: date

    _check_closed = field_validator("closed_on")(not_in_future("closing date"))


SENDER_PATTERN = r"^[a-z0-9-]{2,40}:[A-Za-z0-9._-]{1,64}$"
SenderId = Annotated[str, StringConstraints(pattern=SENDER_PATTERN)]
"""An upstream system, ``kind:instance`` as in the envelope's ``sender`` (school-mis:117001)."""
X25519PublicKeyB64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
"""A raw 32-byte X25519 public key in standard base64 (44 characters)."""


class RegisterSender(Command):
    sender: SenderId
    public_key: X25519PublicKeyB64


class RevokeSender(Command):
    sender: SenderId
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


class RecordBrokerPrincipalRevoked(Command):
    principal: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]
    acls_deleted: Annotated[int, Field(ge=0)]


TCommand = TypeVar("TCommand", bound=Command)


def validate(command_type: type[TCommand], data: Any, today: date | None = None) -> TCommand:
    """Build a command from untrusted data, or raise naming every field and rule."""
    context = {"today": today} if today else None
    try:
        if isinstance(data, command_type):
            data = data.model_dump()
        return command_type.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidCommandError(command_type.__name__, violations_of(exc)) from None


def field_name(part: object) -> str:
    """A field name as given, unless it could be someone's text (an unknown member's name)."""
    text = str(part)
    if isinstance(part, int) or (len(text) <= 64 and text.isascii() and text.isidentifier()):
        return text
    return "*"


def location(parts: Sequence[object], rule: str) -> str:
    """Where an error is; an unknown member's name is the sender's text, so it is never echoed.

    Even a name that looks like a field (``ada_smith``) may be a person's.
    """
    names = [field_name(part) for part in parts]
    if rule == "extra_forbidden" and names:
        names[-1] = "*"
    return ".".join(names)


QUOTES_INPUT = {"uuid_parsing": "not a UUID", "uuid_type": "not a UUID"}
"""Pydantic messages that quote part of what was sent, and what is said instead."""


def message_of(error: Mapping[str, Any]) -> str:
    """Pydantic's message, unless it would repeat part of the input; our own rules' as written."""
    message = QUOTES_INPUT.get(str(error["type"]), str(error["msg"]))
    return message.removeprefix("Value error, ")


def violations_of(exc: ValidationError) -> list[Violation]:
    """Pydantic errors without their ``input`` (which may be personal), nor odd member names."""
    return [
        Violation(
            field=location(error["loc"], error["type"]) or "(command)",
            rule=error["type"],
            message=message_of(error),
        )
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
