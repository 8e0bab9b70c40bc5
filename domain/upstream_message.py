"""The record that an upstream message has had its effect: intake's de-duplication.

Its id is derived from the sender and the sender's message id, so a second
delivery of the same message collides with the first in the event store's own
uniqueness rule, in the same transaction as the message's effects. It holds
no personal data: ids, the type, and where the message was read.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


def upstream_message_id(sender: str, message_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cme:upstream-message:{sender}\x00{message_id}")


class UpstreamMessage(Aggregate):
    """An accepted upstream message."""

    class Accepted(Aggregate.Created):
        sender: str
        message_id: str
        message_type: str
        version: int
        child_id: UUID | None
        source: str  # topic:partition:offset

    @staticmethod
    def create_id(sender: str, message_id: str) -> UUID:
        return upstream_message_id(sender, message_id)

    @event(Accepted)
    def __init__(
        self,
        sender: str,
        message_id: str,
        message_type: str,
        version: int,
        child_id: UUID | None,
        source: str,
    ) -> None:
        self.sender = sender
        self.message_id = message_id
        self.message_type = message_type
        self.version = version
        self.child_id = child_id
        self.source = source
