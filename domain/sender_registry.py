"""The council's register of upstream senders and the keys their seals must verify under.

Anyone holding the intake public key can seal a message; only the sender's
own private key can seal one that opens in HPKE Auth mode against the public
key registered here for that sender. So a school cannot write as another:
intake opens a message only with the keys registered for its ``sender``. The
register is an aggregate like any other, so who was allowed to send, from
when, and who revoked them is in the event store for auditors to replay.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import SenderRegistryError

REGISTRY_ID = uuid5(NAMESPACE_URL, "cme:sender-registry")


class SenderRegistry(Aggregate):
    """Every sender's current public keys (base64 X25519); a revoked sender has none."""

    class Event(Aggregate.Event):
        actor: str

    class Started(Aggregate.Created, Event):
        pass

    @staticmethod
    def create_id() -> UUID:
        return REGISTRY_ID

    @event(Started)
    def __init__(self, actor: str) -> None:
        self.keys: dict[str, list[str]] = {}
        self.revoked: dict[str, str] = {}
        self.principals_revoked: dict[str, str] = {}

    class SenderKeyRegistered(Event):
        sender: str
        public_key: str

    def register(self, actor: str, sender: str, public_key: str) -> None:
        if public_key in self.keys.get(sender, []):
            msg = f"{sender} already has this key"
            raise SenderRegistryError(msg, field="public_key")
        self._register(actor=actor, sender=sender, public_key=public_key)

    @event(SenderKeyRegistered)
    def _register(self, actor: str, sender: str, public_key: str) -> None:
        self.keys.setdefault(sender, []).append(public_key)
        self.revoked.pop(sender, None)

    class SenderRevoked(Event):
        sender: str
        reason: str

    def revoke(self, actor: str, sender: str, reason: str) -> None:
        if not self.keys.get(sender):
            msg = f"{sender} has no registered key to revoke"
            raise SenderRegistryError(msg, field="sender")
        self._revoke(actor=actor, sender=sender, reason=reason)

    @event(SenderRevoked)
    def _revoke(self, actor: str, sender: str, reason: str) -> None:
        self.keys.pop(sender, None)
        self.revoked[sender] = reason

    class BrokerPrincipalRevoked(Event):
        """A Kafka principal's ACLs deleted and its password replaced (`cme kafka revoke`)."""

        principal: str
        reason: str
        acls_deleted: int

    @event(BrokerPrincipalRevoked)
    def record_principal_revoked(
        self, actor: str, principal: str, reason: str, acls_deleted: int
    ) -> None:
        self.principals_revoked[principal] = reason

    def public_keys(self, sender: str) -> tuple[str, ...]:
        return tuple(self.keys.get(sender, ()))
