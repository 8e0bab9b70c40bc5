"""What happened, as it was: a child's history and any aggregate as of an instant, for auditors.

Both open personal values while the child's key exists (and show
"[shredded on DATE]" after); every such read is recorded and so reaches the
ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from application import CMEApplication, replay_aggregate
from application.subject_access import child_events, plain


def history(app: CMEApplication, child_id: UUID, actor: str, purpose: str) -> list[dict[str, Any]]:
    """Every event about the child, oldest first, with who did it and what was shared."""
    rows = []
    for event in child_events(app, child_id):
        facts = {
            k: plain(v)
            for k, v in vars(event).items()
            if k not in {"originator_id", "originator_version", "timestamp", "personal", "actor"}
        }
        rows.append(
            {
                "when": event.timestamp.isoformat(),
                "what": type(event).__qualname__,
                "who": getattr(event, "actor", None),
                "facts": facts,
                "personal_data": plain(getattr(event, "personal", None)),
            }
        )
    app.record_personal_data_read(child_id, actor=actor, purpose=purpose)
    return rows


def replay(
    app: CMEApplication, aggregate_id: UUID, as_of: datetime, actor: str, purpose: str
) -> Any:
    """The aggregate as it was at ``as_of``, from the event store alone.

    Its personal values are opened with the child's key as the key store
    holds it now, not as this process cached it (see ``child_events``).
    """

    def as_of_then() -> Any:
        stored = app.events.get(aggregate_id)
        return replay_aggregate(
            None, [e for e in stored if getattr(e, "timestamp", as_of) <= as_of]
        )

    aggregate = as_of_then()
    child_id = getattr(aggregate, "child_id", None) or aggregate_id
    app.data_keys.forget([child_id])
    aggregate = as_of_then()
    if aggregate is not None:
        app.record_personal_data_read(child_id, actor=actor, purpose=purpose)
    return aggregate
