"""Domain errors: each names the rule broken (and the field, where one is at fault).

Messages never contain personal values: they may end up in logs, in a
quarantine reason or in front of a user who should not see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Violation:
    """One broken rule: which field, which rule, and a message without personal data."""

    field: str
    rule: str
    message: str


class DomainError(Exception):
    """Base of the errors the domain raises on purpose."""

    rule = "domain_rule"

    def __init__(self, message: str, *, field: str = "", **context: Any) -> None:
        super().__init__(message)
        self.field = field
        self.context = context

    def violations(self) -> list[Violation]:
        return [Violation(self.field, self.rule, str(self))]


class InvalidCommandError(DomainError):
    """A command failed validation; ``violations`` lists every broken rule."""

    rule = "invalid_command"

    def __init__(self, command: str, problems: list[Violation]) -> None:
        self.command = command
        self.problems = problems
        summary = "; ".join(f"{v.field}: {v.message}" for v in problems)
        super().__init__(
            f"{command} rejected: {summary}", field=problems[0].field if problems else ""
        )

    def violations(self) -> list[Violation]:
        return list(self.problems)


class NotFoundError(DomainError):
    rule = "not_found"

    def __init__(self, kind: str, ident: UUID, field: str | None = None) -> None:
        super().__init__(f"{kind} {ident} not found", field=field or f"{kind.lower()}_id")


class ChildNotFoundError(NotFoundError):
    def __init__(self, ident: UUID) -> None:
        super().__init__("Child", ident)


class CaseNotFoundError(NotFoundError):
    def __init__(self, ident: UUID) -> None:
        super().__init__("Case", ident)


class RightsRequestNotFoundError(NotFoundError):
    def __init__(self, ident: UUID) -> None:
        super().__init__("Rights request", ident, field="request_id")


class DisclosureNotFoundError(NotFoundError):
    def __init__(self, ident: UUID) -> None:
        super().__init__("Disclosure", ident, field="disclosure_id")


class ChildShreddedError(DomainError):
    """The child's personal data has been destroyed; nothing personal can be added."""

    rule = "child_shredded"


class InvalidTransitionError(DomainError):
    rule = "invalid_transition"


class CaseClosedError(DomainError):
    rule = "case_closed"


class CaseOfAnotherChildError(DomainError):
    """A record names a case that is not the child's: one child's data filed under another's."""

    rule = "case_of_another_child"

    def __init__(self, case_id: UUID, child_id: UUID) -> None:
        super().__init__(f"case {case_id} is not a case of child {child_id}", field="case_id")


class RequestOfAnotherChildError(DomainError):
    """A step names a rights request that is not the child's: the record would say so wrongly."""

    rule = "request_of_another_child"

    def __init__(self, request_id: UUID, child_id: UUID) -> None:
        super().__init__(
            f"rights request {request_id} is not a request about child {child_id}",
            field="request_id",
        )


class RollError(DomainError):
    rule = "roll_inconsistent"


class RestrictionError(DomainError):
    rule = "restriction_state"


class RestrictionUnderConsiderationError(RestrictionError):
    """Art 18(1): the restriction lasts while the request that placed it is considered."""

    rule = "request_under_consideration"


class LegalHoldError(DomainError):
    rule = "legal_hold"


class RequestStateError(DomainError):
    rule = "request_state"


class DisclosureStateError(DomainError):
    rule = "disclosure_state"


class TwoPersonRuleError(DomainError):
    """The requester of a disclosure tried to decide it: that takes a second person."""

    rule = "two_person_rule"


class DateBeforeBirthError(DomainError):
    """A date about a child before their birth: a slip the append-only store would keep."""

    rule = "before_birth"


class DestructionDateUnconfirmedError(DomainError):
    """A corrected date of birth moves the day the record is destroyed: that takes confirming.

    The message gives no date: the destruction date is the 25th birthday.
    """

    rule = "destruction_date_unconfirmed"


class DuplicateChildError(DomainError):
    """Another child already has this UPN."""

    rule = "duplicate_upn"


class SenderRegistryError(DomainError):
    """A change to the sender register that makes no sense (a key twice, revoking no one)."""

    rule = "sender_registry"
