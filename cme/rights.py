"""`cme rights access|overdue`: the subject access package, and requests due or late.

The access package (which also serves portability: it is JSON) holds every
personal value held about the child, opened with their key, the purposes and
sources, every recipient the data was disclosed to, the retention date and
the rights available. Other people's details found in the record (carers,
referrers) are listed for review rather than silently released. Producing
it is itself recorded, and so reaches the disclosure ledger.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from cme.bootstrap import build_application
from cme.settings import load_settings
from consumers.projection_feed import notifications_of
from crypto_shredding.shredded import Shredded
from domain.application import CMEApplication
from domain.rights_request import RightsRequest
from domain.stored_reads import aggregates_about, select_many
from domain.values import Purpose

RIGHTS = [
    "to be informed about what information is held and how it is used",
    "of access (a subject access request)",
    "to have factually inaccurate information corrected",
    "to object to the way the data is used",
    "to request deletion (which may be refused, with an explanation)",
    "to request that use stops while a correction or deletion is considered",
    "to receive the data in a format that can be transferred to another organisation",
    "to have decisions made by automated processes reviewed by a member of staff",
]


def plain(value: Any) -> Any:
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    if isinstance(value, Shredded):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def child_events(app: CMEApplication, child_id: UUID) -> list[Any]:
    """Every event of the child and of the cases, disclosures and requests about them.

    On PostgreSQL the aggregates about the child come from the subject index
    (a request must not cost a scan of the whole log); elsewhere from a scan.
    """
    about = aggregates_about(app.recorder, child_id)
    if about is None:
        stored: list[StoredEvent] = list(notifications_of(app.recorder, child_id))
    else:
        found = select_many(app.recorder, [child_id, *about])
        stored = [event for ident in found for event in found[ident]]
    app.data_keys.load([child_id], missing_ok=True)
    events = [app.mapper.to_domain_event(s) for s in stored]
    return sorted(events, key=lambda e: (e.timestamp, e.originator_version))


def access_package(app: CMEApplication, child_id: UUID, actor: str) -> dict[str, Any]:
    child = app.get_child(child_id)
    events = child_events(app, child_id)
    history, recipients, sources, third_parties = [], [], set(), []
    for event in events:
        kind = type(event).__qualname__
        facts = {
            k: plain(v)
            for k, v in vars(event).items()
            if k not in {"originator_id", "originator_version", "timestamp", "personal"}
        }
        personal = getattr(event, "personal", None)
        history.append(
            {
                "when": event.timestamp.isoformat(),
                "what": kind,
                "facts": facts,
                "personal_data": plain(personal),
            }
        )
        if kind == "Disclosure.Made":
            recipients.append(
                {
                    k: facts.get(k)
                    for k in (
                        "recipient_agency",
                        "recipient_organisation",
                        "purpose",
                        "lawful_basis",
                        "categories",
                        "disclosed_on",
                        "approved_by",
                    )
                }
            )
        for key in ("source", "source_agency"):
            if facts.get(key):
                sources.add(str(facts[key]))
        if isinstance(personal, dict):
            for carer in personal.get("carers") or []:
                third_parties.append({"who": "carer", "details": carer, "found_in": kind})
            if personal.get("referrer_name"):
                third_parties.append(
                    {
                        "who": "referrer",
                        "details": {
                            "name": personal.get("referrer_name"),
                            "contact": personal.get("referrer_contact"),
                        },
                        "found_in": kind,
                    }
                )
    kept_until = app.data_keys.store.get_many([child_id]).get(child_id)
    details = child.details
    package = {
        "child_id": str(child_id),
        "generated_at": datetime.now().astimezone().isoformat(),
        "generated_by": actor,
        "personal_data": plain(
            details.model_dump(mode="json") if not isinstance(details, Shredded) else details
        ),
        "history": history,
        "purposes": [p.value for p in Purpose],
        "sources": sorted(sources),
        "recipients": recipients,
        "retention": {
            "kept_until": kept_until.expires_on.isoformat()
            if kept_until and kept_until.expires_on
            else None,
            "then": "the key is destroyed and the data becomes unreadable everywhere",
        },
        "rights": RIGHTS,
        "third_party_data_for_review": third_parties,
    }
    app.record_personal_data_read(child_id, actor=actor, purpose="subject_access_request")
    return package


def markdown(package: dict[str, Any]) -> str:
    third = package["third_party_data_for_review"]
    lines = [
        f"# Information held about child {package['child_id']}",
        "",
        f"Prepared {package['generated_at']} by {package['generated_by']}.",
        "",
        "## Personal details",
        "",
        "```json",
        json.dumps(package["personal_data"], indent=2),
        "```",
        "",
        "## Who it was shared with",
        "",
    ]
    lines += [
        f"- {r['recipient_organisation']} ({r['recipient_agency']}) on {r['disclosed_on']}: "
        f"{', '.join(r['categories'] or [])} for {r['purpose']} under {r['lawful_basis']}"
        for r in package["recipients"]
    ] or ["- nobody"]
    lines += [
        "",
        "## Where it came from",
        "",
        *[f"- {s}" for s in package["sources"]],
        "",
        "## How long it is kept",
        "",
        f"Until {package['retention']['kept_until']}; then {package['retention']['then']}.",
        "",
        "## Your rights",
        "",
        *[f"- the right {r}" for r in package["rights"]],
        "",
        f"## For review before release: other people's data ({len(third)})",
        "",
    ]
    return "\n".join(lines) + "\n"


def overdue(app: CMEApplication, today: date, within_days: int = 7) -> list[dict[str, Any]]:
    rows = []
    for n in app.recorder.select_notifications(
        start=None, limit=1_000_000, topics=["domain.rights_request:RightsRequest.Received"]
    ):
        request: object = app.repository.get(UUID(str(n.originator_id)))
        assert isinstance(request, RightsRequest)  # noqa: S101 - selected by topic
        if request.decision is not None or not request.is_open:
            continue
        due = request.due_on(today)
        if (due - today).days <= within_days:
            rows.append(
                {
                    "request_id": str(request.id),
                    "type": request.request_type.value,
                    "received_on": request.received_on.isoformat(),
                    "due_on": due.isoformat(),
                    "days_left": (due - today).days,
                    "clock_stopped": request.clock_stopped,
                }
            )
    return sorted(rows, key=lambda r: r["days_left"])


def cmd_rights(args: argparse.Namespace) -> int:
    app = build_application(load_settings())
    try:
        if args.rights_command == "overdue":
            today = date.fromisoformat(args.today) if args.today else app.today()
            rows = overdue(app, today)
            for row in rows:
                state = "LATE" if row["days_left"] < 0 else f"due in {row['days_left']} days"
                stopped = "  (clock stopped)" if row["clock_stopped"] else ""
                print(
                    f"{row['request_id']}  {row['type']:<26} received {row['received_on']}  "
                    f"due {row['due_on']}  {state}{stopped}"
                )
            print(f"{len(rows)} request(s) late or due within 7 days")
            return 0
        package = access_package(app, UUID(args.child_id), args.actor)
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"sar-{args.child_id}.json").write_text(json.dumps(package, indent=2) + "\n")
        (folder / f"sar-{args.child_id}.md").write_text(markdown(package))
        print(
            f"wrote {folder}/sar-{args.child_id}.json and .md "
            f"({len(package['history'])} events, {len(package['recipients'])} recipients, "
            f"{len(package['third_party_data_for_review'])} third-party items to review)"
        )
        return 0
    finally:
        app.close()
