"""Use cases of a data subject's rights request: receive, identity, clock, extend, decide."""

from __future__ import annotations

from uuid import UUID

from application.core import ApplicationCore
from domain import commands as c
from domain.errors import RequestStateError
from domain.rights_request import RightsRequest
from domain.values import RequestDecision, RightsRequestType

RESTRICTS_WHILE_CONSIDERED = {
    RightsRequestType.RESTRICTION,
    RightsRequestType.RECTIFICATION,
    RightsRequestType.OBJECTION,
}


class RightsUseCases(ApplicationCore):
    def receive_rights_request(self, command: c.ReceiveRightsRequest) -> UUID:
        """Record a request; a restriction request restricts processing at once."""
        cmd = self._valid(c.ReceiveRightsRequest, command)
        child = self.get_child(cmd.child_id)
        child.check_not_shredded()
        child.check_after_birth(cmd.received_on, "received_on")
        personal = {"requester_name": cmd.requester_name}
        if cmd.requester_contact:
            personal["requester_contact"] = cmd.requester_contact
        if cmd.details:
            personal["details"] = cmd.details
        request = RightsRequest(
            actor=cmd.actor,
            child_id=cmd.child_id,
            request_type=cmd.request_type.value,
            received_on=cmd.received_on,
            personal=personal,
        )
        if cmd.request_type in RESTRICTS_WHILE_CONSIDERED or cmd.restrict_meanwhile:
            # UK GDPR Art 18(1): while accuracy or an objection is considered (or an
            # erasure, when the requester asks, as the privacy notice promises),
            # only storage and essential processing continue.
            child.restrict_processing(actor=cmd.actor, request_id=request.id)
        if cmd.request_type is RightsRequestType.OBJECTION:
            child.record_objection(actor=cmd.actor, request_id=request.id)
        self.save(request, child)
        return request.id

    def get_rights_request(self, request_id: UUID) -> RightsRequest:
        return self._get(RightsRequest, request_id)

    def verify_identity(self, command: c.VerifyIdentity) -> None:
        cmd = self._valid(c.VerifyIdentity, command)
        request = self.get_rights_request(cmd.request_id)
        request.verify_identity(cmd.actor, cmd.verified_on)
        self.save(request)

    def stop_clock(self, command: c.StopClock) -> None:
        cmd = self._valid(c.StopClock, command)
        request = self.get_rights_request(cmd.request_id)
        request.stop_clock(cmd.actor, cmd.stopped_on, cmd.reason.value)
        self.save(request)

    def resume_clock(self, command: c.ResumeClock) -> None:
        cmd = self._valid(c.ResumeClock, command)
        request = self.get_rights_request(cmd.request_id)
        request.resume_clock(cmd.actor, cmd.resumed_on)
        self.save(request)

    def extend_request(self, command: c.ExtendRequest) -> None:
        cmd = self._valid(c.ExtendRequest, command)
        request = self.get_rights_request(cmd.request_id)
        request.extend(cmd.actor, cmd.months, cmd.reason)
        self.save(request)

    def decide_request(self, command: c.DecideRequest) -> RightsRequest:
        """Decide a request; end the restriction it placed once nothing is left to consider.

        An erasure cannot be fulfilled while a legal hold stands (the caller
        shreds a fulfilled erasure through the retention job). A restriction
        the request placed is lifted when the decision ends the consideration:
        a rectification decided, an objection refused, a restriction request
        refused. An upheld objection or restriction stays until lifted.
        """
        cmd = self._valid(c.DecideRequest, command)
        request = self.get_rights_request(cmd.request_id)
        child = self.get_child(request.child_id)
        granted = cmd.decision is not RequestDecision.REFUSED
        if request.request_type is RightsRequestType.ERASURE and granted and child.on_legal_hold:
            msg = (
                "the record is under a legal hold, so erasure cannot be fulfilled while it "
                "stands; decide 'refused' and explain the hold"
            )
            raise RequestStateError(msg, field="decision")
        request.decide(cmd.actor, cmd.decision, cmd.decided_on, cmd.explanation)
        upheld = granted and request.request_type in {
            RightsRequestType.OBJECTION,
            RightsRequestType.RESTRICTION,
        }
        if child.is_restricted and child.restricted_by == request.id and not upheld:
            child.lift_restriction(actor=cmd.actor, request_id=request.id)
        if request.request_type is RightsRequestType.ERASURE and granted:
            child.grant_erasure(actor=cmd.actor, request_id=request.id)
        self.save(request, child)
        return request

    def close_request(self, command: c.CloseRequest) -> None:
        cmd = self._valid(c.CloseRequest, command)
        request = self.get_rights_request(cmd.request_id)
        request.close(cmd.actor, cmd.closed_on)
        self.save(request)
