"""Closed vocabularies of the CME service: codes that stay in clear in every event.

These are the non-personal facts (what happened, to whom, under which basis)
that projections, the ledger and the DfE return need without any key.
"""

from __future__ import annotations

from enum import StrEnum


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    NOT_KNOWN = "not_known"


class DeletionGround(StrEnum):
    """Grounds for deleting a pupil from the admission register.

    The School Attendance (Pupil Registration) (England) Regulations 2024,
    regulation 9. The ``paragraph`` is the council's mapping of each ground to
    the regulation and should be confirmed with its attendance lead.
    """

    REGISTERED_ELSEWHERE = "registered_elsewhere"
    HOME_EDUCATION = "home_education"
    MOVED_AWAY = "moved_away"
    NOT_RETURNED_AFTER_LEAVE = "not_returned_after_leave"
    MEDICALLY_UNFIT = "medically_unfit"
    IN_CUSTODY = "in_custody"
    DECEASED = "deceased"
    PERMANENTLY_EXCLUDED = "permanently_excluded"
    CONTINUOUS_ABSENCE_ENQUIRIES_FAILED = "continuous_absence_enquiries_failed"
    CEASED_COMPULSORY_SCHOOL_AGE = "ceased_compulsory_school_age"
    SCHOOL_ATTENDANCE_ORDER_REVOKED = "school_attendance_order_revoked"
    NURSERY_NOT_TRANSFERRED = "nursery_not_transferred"
    SIXTH_FORM_CEASED = "sixth_form_ceased"
    ADMISSION_WITHDRAWN = "admission_withdrawn"

    @property
    def paragraph(self) -> str:
        return _REG9[self]

    @property
    def requires_cme_notice(self) -> bool:
        """Grounds after which the school must tell the local authority (reg 13 return)."""
        return self not in {DeletionGround.DECEASED, DeletionGround.SIXTH_FORM_CEASED}


_REG9 = {
    DeletionGround.REGISTERED_ELSEWHERE: "9(1)(a)",
    DeletionGround.HOME_EDUCATION: "9(1)(b)",
    DeletionGround.MOVED_AWAY: "9(1)(c)",
    DeletionGround.NOT_RETURNED_AFTER_LEAVE: "9(1)(d)",
    DeletionGround.MEDICALLY_UNFIT: "9(1)(e)",
    DeletionGround.IN_CUSTODY: "9(1)(f)",
    DeletionGround.DECEASED: "9(1)(g)",
    DeletionGround.PERMANENTLY_EXCLUDED: "9(1)(h)",
    DeletionGround.CONTINUOUS_ABSENCE_ENQUIRIES_FAILED: "9(1)(i)",
    DeletionGround.CEASED_COMPULSORY_SCHOOL_AGE: "9(1)(j)",
    DeletionGround.SCHOOL_ATTENDANCE_ORDER_REVOKED: "9(1)(k)",
    DeletionGround.NURSERY_NOT_TRANSFERRED: "9(1)(l)",
    DeletionGround.SIXTH_FORM_CEASED: "9(1)(m)",
    DeletionGround.ADMISSION_WITHDRAWN: "9(1)(n)",
}


class ReferralSource(StrEnum):
    SCHOOL = "school"
    HOUSING = "housing"
    COUNCIL_TAX = "council_tax"
    OTHER_LOCAL_AUTHORITY = "other_local_authority"
    PROFESSIONAL = "professional"
    MEMBER_OF_PUBLIC = "member_of_public"
    LOST_PUPIL_UPLOAD = "lost_pupil_upload"


class ReferralReason(StrEnum):
    """The DfE CME return's main reasons."""

    REMOVED_FROM_ROLL_WHEREABOUTS_UNKNOWN = "removed_from_roll_whereabouts_unknown"
    NEVER_REGISTERED = "never_registered"
    MOVED_INTO_AREA = "moved_into_area"
    REDUCED_TIMETABLE = "reduced_timetable"
    CONTINUOUS_ABSENCE = "continuous_absence"
    LOST_PUPIL = "lost_pupil"
    HOME_EDUCATION_UNSUITABLE = "home_education_unsuitable"
    ELECTIVE_HOME_EDUCATION_NOTICE = "elective_home_education_notice"
    OTHER = "other"


class CaseStatus(StrEnum):
    REFERRED = "referred"
    ENQUIRIES_IN_PROGRESS = "enquiries_in_progress"
    WHEREABOUTS_UNKNOWN = "whereabouts_unknown"
    LOCATED_AWAITING_PLACE = "located_awaiting_place"
    MOVED_TO_ANOTHER_LA = "moved_to_another_la"
    MOVED_ABROAD = "moved_abroad"
    HOME_EDUCATION = "home_education"
    REFERRED_TO_SOCIAL_CARE_OR_POLICE = "referred_to_social_care_or_police"
    CLOSED = "closed"


# Outcomes of enquiries: any of them may follow another as enquiries go on.
ENQUIRY_STATUSES = frozenset(
    {
        CaseStatus.WHEREABOUTS_UNKNOWN,
        CaseStatus.LOCATED_AWAITING_PLACE,
        CaseStatus.MOVED_TO_ANOTHER_LA,
        CaseStatus.MOVED_ABROAD,
        CaseStatus.HOME_EDUCATION,
        CaseStatus.REFERRED_TO_SOCIAL_CARE_OR_POLICE,
    }
)

ALLOWED_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.REFERRED: frozenset({CaseStatus.ENQUIRIES_IN_PROGRESS}),
    CaseStatus.ENQUIRIES_IN_PROGRESS: ENQUIRY_STATUSES,
    **{s: (ENQUIRY_STATUSES - {s}) | {CaseStatus.ENQUIRIES_IN_PROGRESS} for s in ENQUIRY_STATUSES},
    CaseStatus.CLOSED: frozenset(),
}


class CaseOutcome(StrEnum):
    ON_ROLL_AT_SCHOOL = "on_roll_at_school"
    SUITABLE_EDUCATION_ELSEWHERE = "suitable_education_elsewhere"
    PAST_COMPULSORY_SCHOOL_AGE = "past_compulsory_school_age"
    TRANSFERRED = "transferred"
    DECEASED = "deceased"
    OTHER = "other"


class Agency(StrEnum):
    SCHOOL = "school"
    SCHOOL_NURSING = "school_nursing"
    GP = "gp"
    SOCIAL_CARE = "social_care"
    POLICE = "police"
    HOME_OFFICE = "home_office"
    PROBATION = "probation"
    HOUSING = "housing"
    COUNCIL_TAX = "council_tax"
    OTHER_LOCAL_AUTHORITY = "other_local_authority"
    OTHER = "other"


class EnquiryMethod(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    LETTER = "letter"
    HOME_VISIT = "home_visit"
    SECURE_PORTAL = "secure_portal"
    DATABASE_CHECK = "database_check"


class EnquiryOutcome(StrEnum):
    LOCATED = "located"
    NOT_KNOWN_TO_AGENCY = "not_known_to_agency"
    INFORMATION_RECEIVED = "information_received"
    NO_RESPONSE = "no_response"
    REFERRED_ON = "referred_on"


class LawfulBasis(StrEnum):
    """The closed list of bases and exemptions a disclosure may rely on."""

    PUBLIC_TASK_S436A = "uk_gdpr_6_1_e_public_task_s436a_education_act_1996"
    LEGAL_OBLIGATION = "uk_gdpr_6_1_c_legal_obligation"
    SAFEGUARDING = "safeguarding_children_act_1989_s47_dpa_2018_sch1_para18"
    CRIME_PREVENTION = "dpa_2018_sch2_pt1_para2_1_a_prevention_detection_of_crime"
    APPREHENSION_PROSECUTION = "dpa_2018_sch2_pt1_para2_1_b_apprehension_prosecution"
    TAX_ASSESSMENT = "dpa_2018_sch2_pt1_para2_1_c_assessment_collection_of_tax"
    LEGAL_PROCEEDINGS = "dpa_2018_sch2_para5_legal_proceedings"
    COURT_ORDER = "court_order"

    @property
    def overrides_restriction(self) -> bool:
        """Whether UK GDPR Art 18(2) lets this basis use restricted data.

        Restricted data may still be used for legal claims, to protect another
        person, or for an important public interest.
        """
        return self in _OVERRIDES_RESTRICTION


_OVERRIDES_RESTRICTION = frozenset(
    {
        LawfulBasis.SAFEGUARDING,
        LawfulBasis.CRIME_PREVENTION,
        LawfulBasis.APPREHENSION_PROSECUTION,
        LawfulBasis.LEGAL_PROCEEDINGS,
        LawfulBasis.COURT_ORDER,
    }
)


class Purpose(StrEnum):
    """The purposes the privacy notice states."""

    ADMINISTER_SERVICE = "administer_service"
    SUPPORT_DECISIONS = "support_decisions"
    IDENTIFY_CHILD_MISSING_EDUCATION = "identify_child_missing_education"
    LOCATE_CHILD = "locate_child"
    SAFEGUARDING = "safeguarding"
    PREVENT_CRIME = "prevent_crime"
    TAX = "tax"
    LEGAL_OBLIGATION = "legal_obligation"
    ANALYTICS = "analytics"
    EQUAL_OPPORTUNITIES = "equal_opportunities"


class DataCategory(StrEnum):
    """Categories of personal data, named in disclosures and the ledger (never values)."""

    NAMES = "names"
    DATE_OF_BIRTH = "date_of_birth"
    SEX_GENDER = "sex_gender"
    ETHNICITY = "ethnicity"
    UPN = "upn"
    ADDRESS = "address"
    CARER_CONTACTS = "carer_contacts"
    SCHOOL_HISTORY = "school_history"
    HEALTH_SEN = "health_sen"
    SOCIAL_CARE = "social_care"
    CASE_NOTES = "case_notes"
    WHEREABOUTS = "whereabouts"


class RefusalReason(StrEnum):
    PROCESSING_RESTRICTED = "processing_restricted"
    PERSONAL_DATA_SHREDDED = "personal_data_shredded"
    REFUSED_BY_APPROVER = "refused_by_approver"
    ERASURE_GRANTED = "erasure_granted"


class RightsRequestType(StrEnum):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    PORTABILITY = "portability"
    AUTOMATED_DECISION_REVIEW = "automated_decision_review"


class RequestDecision(StrEnum):
    FULFILLED = "fulfilled"
    PARTLY_FULFILLED = "partly_fulfilled"
    REFUSED = "refused"


class ClockStopReason(StrEnum):
    AWAITING_IDENTITY = "awaiting_identity"
    AWAITING_CLARIFICATION = "awaiting_clarification"


class ShredReason(StrEnum):
    RETENTION_REACHED = "retention_reached"
    ERASURE_APPROVED = "erasure_approved"
    RETENTION_BROUGHT_FORWARD = "retention_brought_forward"
    """Shredded before the 25th birthday by a named officer's confirmed run as of a later day."""


class AuditPurpose(StrEnum):
    """Why an auditor opens a child's history: a closed list, since it is kept in clear.

    The purpose of every read reaches the ledger, which outlives shredding;
    free text there could name the very person it is about.
    """

    STATUTORY_AUDIT = "statutory_audit"
    COMPLAINT_INVESTIGATION = "complaint_investigation"
    DATA_BREACH_INVESTIGATION = "data_breach_investigation"
    SUBJECT_ACCESS_REVIEW = "subject_access_review"
    SAFEGUARDING_REVIEW = "safeguarding_review"
    LEGAL_PROCEEDINGS = "legal_proceedings"
    QUALITY_ASSURANCE = "quality_assurance"
