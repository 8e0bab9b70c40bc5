"""Use cases of a CME case: open, enquiries, status, decisions, officer, close."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from application.core import ApplicationCore
from domain import commands as c
from domain.case import Case
from domain.errors import InvalidTransitionError


class CasesUseCases(ApplicationCore):
    def open_case(self, command: c.OpenCase) -> UUID:
        cmd = self._valid(c.OpenCase, command)
        child = self.get_child(cmd.child_id)
        child.check_not_shredded()
        child.check_after_birth(cmd.referred_on, "referred_on")
        personal = {
            k: v
            for k, v in {
                "referrer_name": cmd.referrer_name,
                "referrer_contact": cmd.referrer_contact,
                "notes": cmd.notes,
            }.items()
            if v
        }
        case = Case(
            actor=cmd.actor,
            child_id=cmd.child_id,
            source=cmd.source.value,
            reason=cmd.reason.value,
            referred_on=cmd.referred_on,
            assigned_officer=cmd.assigned_officer,
            personal=personal or None,
        )
        child.note_case_opened(actor=cmd.actor, case_id=case.id)
        self.save(case, child)
        return case.id

    def get_case(self, case_id: UUID) -> Case:
        return self._get(Case, case_id)

    def record_enquiry(self, command: c.RecordEnquiry) -> UUID:
        cmd = self._valid(c.RecordEnquiry, command)
        case = self.get_case(cmd.case_id)
        self._check_after_birth(case, made_on=cmd.made_on)
        enquiry_id = case.record_enquiry(
            cmd.actor,
            cmd.made_on,
            cmd.agency.value,
            cmd.method.value,
            cmd.outcome.value,
            cmd.notes,
            joint_with_school=cmd.joint_with_school,
        )
        self.save(case)
        return enquiry_id

    def change_case_status(self, command: c.ChangeCaseStatus) -> None:
        cmd = self._valid(c.ChangeCaseStatus, command)
        case = self.get_case(cmd.case_id)
        self._check_after_birth(case, changed_on=cmd.changed_on)
        case.change_status(cmd.actor, cmd.status.value, cmd.changed_on)
        self.save(case)

    def record_support_decision(self, command: c.RecordSupportDecision) -> UUID:
        cmd = self._valid(c.RecordSupportDecision, command)
        case = self.get_case(cmd.case_id)
        decision_id = case.record_support_decision(
            cmd.actor, cmd.decision, cmd.reason, cmd.decided_by, cmd.automated, cmd.rule_id
        )
        self.save(case)
        return decision_id

    def review_automated_decision(self, command: c.ReviewAutomatedDecision) -> None:
        cmd = self._valid(c.ReviewAutomatedDecision, command)
        case = self.get_case(cmd.case_id)
        case.review_automated_decision(cmd.actor, cmd.decision_id, cmd.upheld, cmd.notes)
        self.save(case)

    def assign_officer(self, command: c.AssignOfficer) -> None:
        cmd = self._valid(c.AssignOfficer, command)
        case = self.get_case(cmd.case_id)
        if cmd.next_action_due is not None and cmd.next_action_due < case.referred_on:
            msg = "next_action_due is before the case was referred"
            raise InvalidTransitionError(msg, field="next_action_due")
        case.assign_officer(cmd.actor, cmd.officer, cmd.next_action_due)
        self.save(case)

    def _check_after_birth(self, case: Case, **dates: date) -> None:
        """A dated step on a case cannot come before the child was born (0001-01-01 was kept).

        A shredded child's date of birth is gone, and with it this check.
        """
        child = self.get_child(case.child_id)
        if child.is_shredded:
            return
        for field, day in dates.items():
            child.check_after_birth(day, field)

    def close_case(self, command: c.CloseCase) -> None:
        cmd = self._valid(c.CloseCase, command)
        case = self.get_case(cmd.case_id)
        case.close(cmd.actor, cmd.outcome.value, cmd.closed_on)
        child = self.get_child(case.child_id)
        child.note_case_closed(actor=cmd.actor, case_id=case.id)
        self.save(case, child)
