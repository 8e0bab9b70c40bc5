"""Use cases of the sender register: who may send upstream messages, under which keys."""

from __future__ import annotations

from application.core import ApplicationCore
from domain import commands as c
from domain.sender_registry import REGISTRY_ID, SenderRegistry


class SendersUseCases(ApplicationCore):
    def register_sender(self, command: c.RegisterSender) -> None:
        cmd = self._valid(c.RegisterSender, command)
        registry = self.sender_registry() or SenderRegistry(actor=cmd.actor)
        registry.register(cmd.actor, cmd.sender, cmd.public_key)
        self.save(registry)

    def revoke_sender(self, command: c.RevokeSender) -> None:
        cmd = self._valid(c.RevokeSender, command)
        registry = self.sender_registry() or SenderRegistry(actor=cmd.actor)
        registry.revoke(cmd.actor, cmd.sender, cmd.reason)
        self.save(registry)

    def record_broker_principal_revoked(self, command: c.RecordBrokerPrincipalRevoked) -> None:
        """Who took a Kafka principal's rights away, and why: the broker keeps no such record."""
        cmd = self._valid(c.RecordBrokerPrincipalRevoked, command)
        registry = self.sender_registry() or SenderRegistry(actor=cmd.actor)
        registry.record_principal_revoked(
            actor=cmd.actor,
            principal=cmd.principal,
            reason=cmd.reason,
            acls_deleted=cmd.acls_deleted,
        )
        self.save(registry)

    def sender_registry(self) -> SenderRegistry | None:
        """The register as stored now (None before the first sender); read fresh each call."""
        if not self.is_recorded(REGISTRY_ID):
            return None
        registry: SenderRegistry = self.repository.get(REGISTRY_ID)
        return registry
