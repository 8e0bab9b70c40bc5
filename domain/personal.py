"""Personal data of a child record: only ever stored sealed, under the child's key.

These models are what the sealed ``personal`` part of an event holds once
opened. Validation lives here so a bad value is rejected before it is sealed.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.values import DataCategory, Sex

UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(r"^[A-Z][0-9]{11}[0-9A-Z]$")
_EMAIL = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")


def upn_check_letter(body: str) -> str:
    """DfE check letter over the 12 characters after it (weights 2..13, mod 23)."""
    total = sum(int(c) * weight for c, weight in zip(body[:11], range(2, 13), strict=True))
    last = body[11]
    if last.isdigit():
        total += int(last) * 13
    else:  # a temporary UPN ends with a letter, counted by its position in the alphabet
        total += (UPN_CHECK_LETTERS.index(last) if last in UPN_CHECK_LETTERS else 0) * 13
    return UPN_CHECK_LETTERS[total % 23]


def _check_upn(value: str) -> str:
    upn = "".join(value.split()).upper()
    if not _UPN_SHAPE.match(upn):
        msg = "a UPN is a check letter followed by 12 digits (a temporary UPN ends in a letter)"
        raise ValueError(msg)
    if upn_check_letter(upn[1:]) != upn[0]:
        msg = "the UPN's check letter does not match its digits"
        raise ValueError(msg)
    return upn


def _check_postcode(value: str) -> str:
    postcode = " ".join(value.upper().split())
    if not _POSTCODE.match(postcode):
        msg = "not a UK postcode"
        raise ValueError(msg)
    compact = postcode.replace(" ", "")
    return f"{compact[:-3]} {compact[-3:]}"


# C0 controls other than tab, line feed and carriage return, and DEL: no stored
# text needs them, and PostgreSQL refuses NUL in text outright, so one such
# character would stop every reader of the event downstream.
CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0x20), 0x7F)) - {"\t", "\n", "\r"}


_ASCII_CONTROL = re.compile("[" + re.escape("".join(sorted(CONTROL_CHARACTERS))) + "]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text anywhere, or None."""
    if value.isascii():  # the common case, known without a look at each character
        return (
            "control characters are not allowed in text" if _ASCII_CONTROL.search(value) else None
        )
    if not CONTROL_CHARACTERS.isdisjoint(value):
        return "control characters are not allowed in text"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (a lone surrogate was found)"
    return None


def check_text(value: str) -> str:
    """Pydantic validator for any free text that will be stored."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Upn = Annotated[str, AfterValidator(_check_upn)]
Postcode = Annotated[str, AfterValidator(_check_postcode)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(check_text),
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(check_text)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=4000), AfterValidator(check_text)
]


class _Personal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Address(_Personal):
    line1: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        AfterValidator(check_text),
    ]
    line2: ShortText | None = None
    town: Name
    postcode: Postcode | None = None
    country: ShortText = "England"


class Carer(_Personal):
    name: Name
    relationship: ShortText
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    email: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
            ),
        ]
        | None
    ) = None
    has_parental_responsibility: bool = True


class Flags(_Personal):
    """Special-category and sensitive indicators, personal like the rest."""

    looked_after: bool = False
    known_to_social_care: bool = False
    sen_support: bool = False
    ehcp: bool = False
    traveller: bool = False
    young_carer: bool = False


class ChildDetails(_Personal):
    """Everything personal about a child, as registered or rectified."""

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
    notes: Note | None = None

    def retention_until(self) -> date:
        """The 25th birthday: the day the data key is destroyed (29 Feb → 28 Feb)."""
        return add_years(self.date_of_birth, 25)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year + years, day=28)


# Which categories of data (as disclosures name them) each detail belongs to:
# after a correction, everyone the category was disclosed to must be told
# (UK GDPR Art 19). A test keeps every field of ChildDetails mapped.
CATEGORIES_OF_DETAIL: dict[str, tuple[DataCategory, ...]] = {
    "legal_forenames": (DataCategory.NAMES,),
    "legal_surname": (DataCategory.NAMES,),
    "preferred_name": (DataCategory.NAMES,),
    "date_of_birth": (DataCategory.DATE_OF_BIRTH,),
    "sex": (DataCategory.SEX_GENDER,),
    "gender": (DataCategory.SEX_GENDER,),
    "ethnicity": (DataCategory.ETHNICITY,),
    "upn": (DataCategory.UPN,),
    "address": (DataCategory.ADDRESS, DataCategory.WHEREABOUTS),
    "carers": (DataCategory.CARER_CONTACTS,),
    "flags": (DataCategory.HEALTH_SEN, DataCategory.SOCIAL_CARE),
    "notes": (DataCategory.CASE_NOTES,),
}
