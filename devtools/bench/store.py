"""A large event store for the read-side benchmarks, built quickly but honestly.

Aggregates are made by the domain model and every stored event comes out of
the application's own mapper (personal parts sealed under each child's key,
keys in the key store), so the rows are exactly what the system writes. They
are then loaded with COPY as the writer role: a million events through the
library's insert path would take longer than the benchmarks they feed, and
the write path is measured by ``scripts/bench domain`` and ``intake``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from rich.progress import Progress

from cme.bootstrap import App
from cme.db.roles import Role, role_url
from cme.settings import Settings
from devtools.bench.report import Stopwatch
from devtools.synthetic import SyntheticCounty
from domain.child import Child
from domain.disclosure import Disclosure
from domain.personal import Address, ChildDetails
from domain.values import Agency, DataCategory, LawfulBasis, Purpose

BATCH = 1000
COPY_EVENTS = (
    "COPY eventstore.cme_events (originator_id, originator_version, topic, state) "
    "FROM STDIN (FORMAT BINARY)"
)


@dataclass
class BuiltStore:
    children: list[UUID] = field(default_factory=list)
    events: int = 0
    disclosures: int = 0
    seconds: float = 0.0


def child_with_events(county: SyntheticCounty, events: int) -> tuple[Child, ChildDetails]:
    """A new child with ``events`` events: registration, then schools, removals, moves."""
    details = ChildDetails.model_validate(county.child_details())
    child = Child(actor="bench", personal=details.model_dump(mode="json"), source="school")
    day = date(2020, 9, 1)
    for n in range(events - 1):
        day += timedelta(days=30)
        if n % 3 == 0:
            child.register_at_school(actor="mis", school_urn=county.school_urn(), on_roll_from=day)
        elif n % 3 == 1:
            child.remove_from_roll(
                actor="mis",
                school_urn=child.schools[-1].school_urn,
                removed_on=day,
                deletion_ground="moved_away",
            )
        else:
            child.change_address("cw", Address.model_validate(county.address()), day, "housing")
    return child, details


def _aggregates(
    county: SyntheticCounty, child_events: int, disclosures: int
) -> tuple[Child, ChildDetails, list[Aggregate]]:
    """One child with ``child_events`` events, and ``disclosures`` disclosures about them."""
    child, details = child_with_events(county, child_events)
    day = date(2020, 9, 1) + timedelta(days=30 * child_events)
    shared: list[Aggregate] = []
    agencies = list(Agency)
    for n in range(disclosures):
        shared.append(
            Disclosure.make(
                actor="cw:bench",
                child_id=child.id,
                case_id=None,
                recipient_agency=agencies[n % len(agencies)].value,
                recipient_organisation="Synthetic Partner Agency",
                purpose=Purpose.SAFEGUARDING.value,
                lawful_basis=LawfulBasis.SAFEGUARDING.value,
                categories=[DataCategory.NAMES.value, DataCategory.ADDRESS.value],
                requested_by="cw:bench",
                approved_by="manager:bench",
                disclosed_on=day,
                personal={"summary": f"Shared {county.word(3)} for enquiries"},
            )
        )
    return child, details, shared


def _chunks(count: int) -> Iterator[int]:
    for start in range(0, count, BATCH):
        yield min(BATCH, count - start)


def build_store(
    settings: Settings,
    app: App,
    children: int,
    child_events: int,
    disclosures: int,
    seed: int,
    progress: Progress,
    blind_index: bool = False,
) -> BuiltStore:
    """Children with their events and disclosures, keys expiring on their 25th birthday."""
    county = SyntheticCounty(seed=seed)
    built = BuiltStore()
    watch = Stopwatch()
    per_child = child_events + disclosures
    task = progress.add_task("building the event store", total=children * per_child)
    with psycopg.connect(role_url(settings, Role.WRITER)) as conn:
        for size in _chunks(children):
            made = [_aggregates(county, child_events, disclosures) for _ in range(size)]
            app.data_keys.create_many(
                (child.id, details.retention_until()) for child, details, _ in made
            )
            rows = [
                (stored.originator_id, stored.originator_version, stored.topic, stored.state)
                for child, _, shared in made
                for aggregate in (child, *shared)
                for stored in map(app.mapper.to_stored_event, aggregate.collect_events())
            ]
            with conn.cursor() as cur, cur.copy(COPY_EVENTS) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            if blind_index:
                # What intake would have indexed: identifiers, and a sender's reference.
                app.blind_index.store.add_many(
                    (child.id, kind, digest)
                    for child, details, _ in made
                    for kind, digest in [
                        *app.blind_index.entries(
                            details.upn,
                            details.legal_surname,
                            details.date_of_birth,
                            details.legal_forenames,
                        ),
                        app.blind_index.sender_ref_entry(f"school-mis:bench|{child.id.hex}"),
                    ]
                )
            built.children += [child.id for child, _, _ in made]
            built.events += len(rows)
            built.disclosures += sum(len(shared) for _, _, shared in made)
            progress.advance(task, len(rows))
        conn.execute("ANALYZE eventstore.cme_events")
    progress.remove_task(task)
    built.seconds = watch.seconds()
    return built
