"""Idempotency-Key: a retried POST has exactly one effect and gets the first answer again.

The answer is an aggregate of its own, saved in the same transaction as the
events the request caused (the intake's de-duplication does the same), with
an id derived from the caller and their key: a retry finds it, and two
copies racing collide in the event store's own uniqueness rule. Only a keyed
digest of the request is kept, never its body, which may hold personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from cme.bootstrap import App
from domain.errors import DomainError


class WriteConflictError(DomainError):
    """Another writer changed the same records twice while this request ran: retry it."""

    rule = "write_conflict"


class IdempotencyKeyReusedError(DomainError):
    """The same key came with a different request: the caller has a bug, not a retry."""

    rule = "idempotency_key_reused"


def key_digest(key: str) -> str:
    """The key as kept: a client may have put anything in it, so it is never stored as sent."""
    return hashlib.sha256(key.encode()).hexdigest()


def answer_id(subject: str, key: str) -> UUID:
    return _answer_id(subject, key_digest(key))


def _answer_id(subject: str, digest_of_key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cme:api-answer:{subject}\x00{digest_of_key}")


class ApiAnswer(Aggregate):
    """What the API answered to one caller's one Idempotency-Key."""

    class Answered(Aggregate.Created):
        subject: str  # the staff member's id at the identity provider (the events' actor)
        key_digest: str
        digest: str
        status: int
        body: dict[str, Any]

    @staticmethod
    def create_id(subject: str, key_digest: str, **_: Any) -> UUID:
        return _answer_id(subject, key_digest)

    @event(Answered)
    def __init__(
        self, subject: str, key_digest: str, digest: str, status: int, body: dict[str, Any]
    ) -> None:
        self.digest = digest
        self.status = status
        self.body = body


def digest(secret: bytes, method: str, path: str, body: Any) -> str:
    message = json.dumps([method, path, body], sort_keys=True, default=str).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def once(
    app: App,
    subject: str,
    key: str,
    request_digest: str,
    status: int,
    act: Callable[[], dict[str, Any]],
) -> tuple[int, dict[str, Any]]:
    """Run ``act`` and keep its answer with its effects; a repeat gets the kept answer."""
    ident = answer_id(subject, key)
    for _ in range(2):
        if app.is_recorded(ident):
            kept: ApiAnswer = app.repository.get(ident)
            if not hmac.compare_digest(kept.digest, request_digest):
                msg = "this Idempotency-Key was used before for a different request"
                raise IdempotencyKeyReusedError(msg, field="Idempotency-Key")
            return kept.status, kept.body
        try:
            with app.batch():
                body = act()
                app.save(
                    ApiAnswer(
                        subject=subject,
                        key_digest=key_digest(key),
                        digest=request_digest,
                        status=status,
                        body=body,
                    )
                )
            return status, body
        except IntegrityError:
            continue  # a copy of this request got there first: answer as it did
    msg = "another change to the same records won twice; read again and retry"
    raise WriteConflictError(msg)
