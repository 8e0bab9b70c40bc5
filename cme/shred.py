"""`cme shred due|verify`: run the retention job by hand; certify a child is shredded."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from uuid import UUID

from cme.bootstrap import (
    App,
    backend_for,
    build_application,
    build_data_keys,
    build_retention_job,
    read_models,
)
from cme.db.roles import Role, role_url
from cme.listings import Listing, render
from cme.private_files import write_private
from cme.secrets import load_ledger_signer
from cme.settings import Settings, load_settings
from consumers.config import KafkaRole
from consumers.projection_feed import notifications_of
from crypto_shredding.mapper import cme_mapper
from crypto_shredding.verification import Certificate, certify, readable_events
from projections.caseworker import CASE_PERSONAL_COLUMNS, CHILD_PERSONAL_COLUMNS
from projections.ledger_store import LedgerReader

Check = Callable[[], tuple[bool, str]]


def run_due(
    settings: Settings,
    today: date | None,
    confirmed_by: str | None = None,
    fmt: str | None = None,
) -> int:
    """The retention job now; run as of a later day, only a preview unless confirmed.

    Run as of a day after today, it would destroy the keys of children not yet
    25: irreversible, so it lists them and destroys nothing unless asked to.
    """
    app = build_application(settings)
    try:
        if today is not None and today > app.today() and confirmed_by is None:
            return _preview_early(app, today, fmt)
        report = build_retention_job(settings, app).run(today, brought_forward_by=confirmed_by)
    finally:
        app.close()
    if report.skipped_locked:
        print("another retention run is in progress; nothing done")
        return 1
    print(
        f"shredded {len(report.shredded)} child(ren), deferred {len(report.deferred)} on legal "
        f"hold, destroyed {len(report.other_keys)} other expired key(s), finished "
        f"{len(report.finished)} interrupted cascade(s)"
    )
    return 0


def _preview_early(app: App, day: date, fmt: str | None) -> int:
    """Every child the early run would shred, in full: the list to check before confirming."""
    store = app.data_keys.store
    due_now = set(store.due(app.today(), PREVIEW_LIMIT))
    early = [child for child in store.due(day, PREVIEW_LIMIT) if child not in due_now]
    print(
        f"dry run: as of {day}, {len(early)} child(ren) not yet 25 would be shredded "
        "(keys destroyed for good)",
        file=sys.stderr,
    )
    if early:
        rows = [{"child_id": str(child_id)} for child_id in early]
        render([Listing("would be shredded", ("child_id",), rows)], fmt)
    print(
        "nothing was destroyed; to shred them now anyway, run it again with "
        "--confirm-early --actor YOUR-ID (recorded in the ledger against each child)",
        file=sys.stderr,
    )
    return 0


PREVIEW_LIMIT = 1_000_000
"""Children a preview looks at: far more than a county holds."""


def _key_store(app: App, child_id: UUID) -> Check:
    def check() -> tuple[bool, str]:
        live = app.data_keys.store.get_many([child_id])
        tomb = app.data_keys.store.tombstones([child_id]).get(child_id)
        if live:
            return False, "the data key still exists"
        if tomb is None:
            return False, "no tombstone: this id never had a key"
        return True, f"key destroyed at {tomb.destroyed_at.isoformat()} ({tomb.reason})"

    return check


def _event_store(settings: Settings, app: App, child_id: UUID) -> Check:
    def check() -> tuple[bool, str]:
        data_keys, close = build_data_keys(settings)  # a cold cache: nothing remembered
        try:
            mine = notifications_of(app.queries, child_id)
            examined, readable = readable_events(cme_mapper(data_keys), mine)
        finally:
            close()
        return (
            readable == 0,
            f"{examined} events of the child, {readable} with readable personal data",
        )

    return check


def _blind_index(app: App, child_id: UUID) -> Check:
    def check() -> tuple[bool, str]:
        rows = app.blind_index.store.count_for(child_id)
        return rows == 0, f"{rows} blind-index rows"

    return check


def _read_models(settings: Settings, child_id: UUID) -> Check:
    def check() -> tuple[bool, str]:
        role = Role.CASEWORKER  # reads only (the embedded file has no roles)
        store, close = read_models(settings, role)
        try:
            children = [r for r in store.rows("children") if str(r["child_id"]) == str(child_id)]
            cases = [r for r in store.rows("cases") if str(r["child_id"]) == str(child_id)]
            notes = [r for r in store.rows("case_timeline") if str(r["child_id"]) == str(child_id)]
        finally:
            close()
        values = sum(1 for r in children for c in CHILD_PERSONAL_COLUMNS if r.get(c) is not None)
        values += sum(1 for r in cases for c in CASE_PERSONAL_COLUMNS if r.get(c) is not None)
        values += sum(1 for r in notes if r.get("notes") is not None)
        shredded_on = children[0]["shredded_on"] if children else None
        return values == 0, f"{values} personal values; shredded_on={shredded_on}"

    return check


def _ledger(settings: Settings, child_id: UUID) -> Check:
    def check() -> tuple[bool, str]:
        mine = LedgerReader(role_url(settings, Role.AUDITOR)).documents_about(child_id)
        receipt = any(e["kind"] == "personal_data_shredded" for e in mine)
        return receipt, (
            f"{len(mine)} entries (categories and ids only); erasure receipt "
            f"{'present' if receipt else 'missing'}"
        )

    return check


def _events_topic(settings: Settings, child_id: UUID) -> Check:
    def check() -> tuple[bool, str]:
        from consumers.kafka_io import read_to_end  # noqa: PLC0415
        from consumers.projector import stored_from_message  # noqa: PLC0415

        key = str(child_id).encode()
        records = read_to_end(settings, settings.topic_events, KafkaRole.AUDITOR)
        mine = [stored_from_message(m) for m in records if m.key == key]
        data_keys, close = build_data_keys(settings)
        try:
            examined, readable = readable_events(cme_mapper(data_keys), mine)
        finally:
            close()
        return readable == 0, f"{examined} messages of the child, {readable} readable"

    return check


def _quarantine(settings: Settings, app: App, child_id: UUID) -> Check:
    """No copy of the child's erased quarantined messages may still open.

    The topic is read raw, records behind their tombstones included (the
    broker keeps them until compaction): each copy must fail to open, its
    key destroyed with the child. Messages that could not be tied to the
    child (no envelope, or a sender reference never matched) stay sealed
    under their month's key and become unreadable when that key expires.
    """

    def check() -> tuple[bool, str]:
        from consumers.kafka_io import read_to_end  # noqa: PLC0415
        from consumers.quarantine import QuarantineCipher, QuarantineRecord  # noqa: PLC0415
        from domain.markers import Shredded  # noqa: PLC0415

        erased = {
            qid
            for event in app.events.get(child_id)
            for qid in getattr(event, "quarantine_erased", None) or []
        }
        copies: list[QuarantineRecord] = []
        if erased:
            copies = [
                QuarantineRecord.from_json(m.value)
                for m in read_to_end(settings, settings.topic_quarantine, KafkaRole.AUDITOR)
                if m.value is not None and m.key is not None and m.key.decode() in erased
            ]
        data_keys, close = build_data_keys(settings)
        try:
            cipher = QuarantineCipher(data_keys, settings.quarantine_retention_days)
            opening = [c for c in copies if not isinstance(cipher.original(c), Shredded)]
        finally:
            close()
        return not opening, (
            f"{len(erased)} quarantined messages of the child erased; {len(copies)} copies "
            f"still on the topic awaiting compaction, {len(opening)} of them open"
        )

    return check


def _upstream_topic(settings: Settings, app: App, child_id: UUID) -> Check:
    """Every upstream message of the child must be gone from the upstream topic.

    Which messages were the child's is known from intake's de-duplication
    records (topic, partition and offset; no personal data). Each must lie
    below its partition's start, deleted by the shred cascade. One still
    there fails the check, whatever key may or may not open it: this check
    holds no intake key (least privilege), and fails closed.
    """

    def check() -> tuple[bool, str]:
        from consumers.kafka_io import start_offsets  # noqa: PLC0415
        from domain.upstream_message import UpstreamMessage  # noqa: PLC0415

        topic = settings.topic_upstream
        offsets: list[tuple[int, int]] = []
        for ident in app.queries.aggregates_about(child_id):
            record: object = app.repository.get(ident)
            if isinstance(record, UpstreamMessage) and record.source.startswith(f"{topic}:"):
                partition, at = record.source.rsplit(":", 2)[1:]
                offsets.append((int(partition), int(at)))
        starts = start_offsets(settings, topic, KafkaRole.AUDITOR) if offsets else {}
        remaining = sum(1 for partition, offset in offsets if offset >= starts[partition])
        return remaining == 0, (
            f"{len(offsets)} messages of the child, {len(offsets) - remaining} deleted from the "
            f"topic, {remaining} still on it"
        )

    return check


def verify(settings: Settings, child_id: UUID) -> Certificate:
    app = build_application(settings)
    try:
        app.get_child(child_id)  # no certificate for a child we never held: not found
        checks: list[tuple[str, Check]] = [
            ("key store", _key_store(app, child_id)),
            ("event store", _event_store(settings, app, child_id)),
            ("blind index", _blind_index(app, child_id)),
            ("caseworker read models", _read_models(settings, child_id)),
        ]
        if backend_for(settings).has_kafka:  # the ledger and the topics
            checks += [
                ("disclosure ledger", _ledger(settings, child_id)),
                (f"Kafka topic {settings.topic_events}", _events_topic(settings, child_id)),
                (f"Kafka topic {settings.topic_quarantine}", _quarantine(settings, app, child_id)),
                (
                    f"Kafka topic {settings.topic_upstream}",
                    _upstream_topic(settings, app, child_id),
                ),
            ]
        return certify(child_id, checks, load_ledger_signer(settings))
    finally:
        app.close()


def cmd_shred(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.shred_command == "due":
        if args.confirm_early and args.actor is None:
            print("--confirm-early needs --actor: who confirms is recorded", file=sys.stderr)
            return 2
        return run_due(
            settings, args.today, args.actor if args.confirm_early else None, args.format
        )
    certificate = verify(settings, args.child_id)
    text = certificate.to_json()
    if args.out:
        write_private(args.out, text + "\n")
    print(text)
    return 0 if certificate.passed else 1
