"""A referral made to the CME team by phone or email: the child found or registered, a case opened.

Upstream referrals arrive through intake, which matches on the sender's own
reference first; a caseworker taking a call has only the child's details, so
this matches on UPN, else surname, date of birth and forenames, through the
same blind index. A child who already has an open case gets no second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application import CMEApplication
from domain import commands as c


@dataclass(frozen=True)
class Referred:
    child_id: UUID
    case_id: UUID
    registered: bool
    """The child was not known before this referral."""
    opened: bool
    """A case was opened (False: the child's open case was already there)."""


def refer(app: CMEApplication, command: c.ReferChild) -> Referred:
    cmd = c.validate(c.ReferChild, command, today=app.today())
    # The details are checked as a registration would check them, found child or not:
    # a referral with an impossible date of birth is refused, not quietly matched.
    registration = c.validate(
        c.RegisterChild,
        {"actor": cmd.actor, "details": cmd.details, "source": cmd.source},
        today=app.today(),
    )
    details = registration.details
    child_id = app.find_child_by_identity(
        details.upn, details.legal_surname, details.date_of_birth, details.legal_forenames
    )
    registered = child_id is None
    if child_id is None:
        child_id = app.register_child(registration)
    open_case = app.get_child(child_id).open_case_id
    if open_case is not None:
        return Referred(child_id, open_case, registered, opened=False)
    case_id = app.open_case(
        c.OpenCase(
            actor=cmd.actor,
            child_id=child_id,
            source=cmd.source,
            reason=cmd.reason,
            referred_on=cmd.referred_on,
            referrer_name=cmd.referrer_name,
            referrer_contact=cmd.referrer_contact,
            notes=cmd.notes,
        )
    )
    return Referred(child_id, case_id, registered, opened=True)
