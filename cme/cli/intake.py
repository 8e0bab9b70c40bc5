"""`cme publish`, `cme quarantine list|replay`, `cme schemas export`, `cme intake public-key`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cme.cli.arguments import a_folder, a_quarantine_id, a_text_file, an_actor
from cme.listings import Listing, add_format_option, render
from cme.settings import PROJECT_ROOT, load_settings
from consumers.config import KafkaRole

SCHEMA_DIR = PROJECT_ROOT / "schemas" / "upstream" / "v1"


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish a JSON Lines file of plain upstream messages, sealing each payload.

    A line that cannot be sent is reported on stderr with its number and the
    rule it broke, and the others still go; progress is shown on a terminal.
    """
    from rich.progress import Progress

    from cme.secrets import intake_public_key, load_sender_keys
    from consumers import kafka_io
    from consumers.envelopes import LineRejectedError, seal_line

    settings = load_settings()
    kid, public_key = intake_public_key(settings)
    senders = load_sender_keys(settings)
    producer = kafka_io.producer(settings, KafkaRole.SENDER, **kafka_io.COMMAND)
    accepted = rejected = 0
    pending: list[tuple[int, Any]] = []

    def refuse(number: int, why: str) -> None:
        nonlocal rejected
        rejected += 1
        print(f"line {number}: rejected {why}", file=sys.stderr)

    try:
        with args.file.open("rb") as lines, Progress(transient=True) as progress:
            task = progress.add_task("sealing and sending", total=args.file.stat().st_size)
            for number, raw_line in enumerate(lines, start=1):
                progress.advance(task, len(raw_line))
                if not raw_line.strip():
                    continue
                try:
                    line = json.loads(raw_line.decode("utf-8"))
                    envelope, raw = seal_line(line, kid, public_key, senders)
                except UnicodeDecodeError:
                    refuse(number, "not_utf8: the line is not UTF-8 text")
                    continue
                except json.JSONDecodeError:
                    refuse(number, "not_json: the line is not JSON")
                    continue
                except LineRejectedError as exc:
                    refuse(number, str(exc))
                    continue
                future = producer.send(
                    settings.topic_upstream, key=envelope.subject_ref.encode(), value=raw
                )
                pending.append((number, (future, envelope.message_id)))
            progress.update(task, description="waiting for the broker's acknowledgements")
            producer.flush()
        for number, (future, message_id) in pending:
            metadata = future.get(timeout=30)
            accepted += 1
            if args.verbose:
                where = f"partition {metadata.partition} offset {metadata.offset}"
                print(f"line {number}: accepted {message_id} -> {where}")
    finally:
        producer.close()
    print(f"published {accepted} message(s); rejected {rejected} line(s) locally")
    return 0 if rejected == 0 else 1


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    """The quarantined messages with their reasons; ``--format json`` gives every field."""
    from consumers.quarantine_kafka import read_quarantine

    settings = load_settings()
    records = list(read_quarantine(settings))
    columns = ["id", "received", "reason", "field", "message", "sender", "type", "source"]
    rows = [
        {
            "id": r.quarantine_id,
            "received": r.received_at[:19],
            "reason": r.reason.code,
            "field": r.reason.field,
            "message": r.reason.message,
            "sender": r.sender,
            "type": r.message_type,
            "source": f"{r.source_partition}:{r.source_offset}",
        }
        for r in records
    ]
    title = f"quarantine ({settings.topic_quarantine})"
    render([Listing(title, columns, rows)], args.format)
    return 0


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    """Re-submit a quarantined message: as it was, or as corrected in a file."""
    from cme.bootstrap import build_application
    from cme.secrets import intake_public_key, load_sender_keys
    from consumers import kafka_io
    from consumers.envelopes import LineRejectedError, seal_line
    from consumers.quarantine import QuarantineCipher
    from consumers.quarantine_kafka import read_quarantine
    from domain.markers import Shredded

    settings = load_settings()
    matches = [r for r in read_quarantine(settings) if r.quarantine_id.startswith(args.id)]
    if len(matches) != 1:
        print(
            f"error: {len(matches)} quarantined messages match that id; give more of it",
            file=sys.stderr,
        )
        return 1
    record = matches[0]
    if args.fixed:
        kid, public_key = intake_public_key(settings)
        try:
            fixed = json.loads(args.fixed.read_bytes().decode("utf-8"))
            envelope, raw = seal_line(fixed, kid, public_key, load_sender_keys(settings))
        except (UnicodeDecodeError, json.JSONDecodeError):
            print("error: the corrected message is not one JSON object (UTF-8)", file=sys.stderr)
            return 1
        except LineRejectedError as exc:
            print(f"error: the corrected message is still invalid: {exc}", file=sys.stderr)
            return 1
        key: bytes | None = envelope.subject_ref.encode()
    else:
        app = build_application(settings)
        try:
            original = QuarantineCipher(app.data_keys, settings.quarantine_retention_days).original(
                record
            )
        finally:
            app.close()
        if isinstance(original, Shredded):
            print(
                "error: the quarantine retention has passed: the original is destroyed",
                file=sys.stderr,
            )
            return 1
        if original[0] is None:
            print(
                "error: the quarantined record had no value; replay a corrected one with --fixed",
                file=sys.stderr,
            )
            return 1
        raw, key = original[0], original[1]
    producer = kafka_io.producer(settings, KafkaRole.OPERATOR, **kafka_io.COMMAND)
    try:
        metadata = producer.send(
            settings.topic_upstream,
            key=key,
            value=raw,
            headers=[
                ("cme-replay-of", record.quarantine_id.encode()),
                ("cme-replayed-by", args.actor.encode()),
            ],
        ).get(timeout=30)
    finally:
        producer.close()
    where = f"partition {metadata.partition} offset {metadata.offset}"
    print(f"replayed {record.quarantine_id} to {where} (headers name it and {args.actor})")
    return 0


def schema_documents() -> dict[str, dict[str, Any]]:
    """The contract's JSON Schemas by file name: the envelope and each payload type/version."""
    from consumers.contract import PAYLOADS, Envelope

    documents: dict[str, dict[str, Any]] = {"envelope.json": Envelope.model_json_schema()}
    for (message_type, version), model in PAYLOADS.items():
        documents[f"{message_type.value}.v{version}.json"] = model.model_json_schema()
    return documents


def export_schemas(folder: Path) -> list[Path]:
    documents = schema_documents()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in sorted(documents.items()):
        path = folder / name
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def cmd_schemas_export(args: argparse.Namespace) -> int:
    """Write the schemas, replacing only earlier exports: a folder of other files is refused."""
    ours = set(schema_documents())
    others = sorted(p.name for p in args.folder.iterdir() if p.name not in ours)
    if others:
        print(
            f"error: that folder holds {len(others)} file(s) this export does not write; "
            "give an empty folder, or one holding only an earlier export",
            file=sys.stderr,
        )
        return 1
    replaced = sum(1 for name in ours if (args.folder / name).exists())
    written = export_schemas(args.folder)
    print(f"wrote {len(written)} JSON Schemas to {args.folder} ({replaced} replaced)")
    return 0


def cmd_public_key(args: argparse.Namespace) -> int:
    from cme.secrets import load_intake_keys

    keys = load_intake_keys(load_settings())
    print(f"{keys.current}:{keys.public_key_b64()}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = sub.add_parser("publish", help="publish upstream messages from a JSON Lines file")
    publish.add_argument(
        "file", type=a_text_file, help="one plain message per line (payload not yet sealed)"
    )
    publish.add_argument("-v", "--verbose", action="store_true", help="report every accepted line")
    publish.set_defaults(handler=cmd_publish)

    quarantine = sub.add_parser("quarantine", help="inspect and replay quarantined messages")
    q_sub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    q_list = q_sub.add_parser("list", help="quarantined messages with their reasons")
    add_format_option(q_list)
    q_list.set_defaults(handler=cmd_quarantine_list)
    q_replay = q_sub.add_parser("replay", help="re-submit a quarantined message")
    q_replay.add_argument(
        "id", type=a_quarantine_id, help="the quarantine id (a unique prefix will do)"
    )
    q_replay.add_argument(
        "--fixed", type=a_text_file, help="a corrected plain message (JSON) to publish instead"
    )
    q_replay.add_argument(
        "--actor", required=True, type=an_actor, help="who re-submits it (in its headers)"
    )
    q_replay.set_defaults(handler=cmd_quarantine_replay)

    schemas = sub.add_parser("schemas", help="the upstream contract's JSON Schemas")
    s_sub = schemas.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    export = s_sub.add_parser("export", help="write the JSON Schemas (checked in under schemas/)")
    export.add_argument("folder", nargs="?", type=a_folder, default=SCHEMA_DIR)
    export.set_defaults(handler=cmd_schemas_export)

    intake = sub.add_parser("intake", help="intake key material for senders")
    i_sub = intake.add_subparsers(dest="intake_command", metavar="ACTION", required=True)
    key = i_sub.add_parser("public-key", help="print 'kid:base64' for CME_INTAKE_PUBLIC_KEY")
    key.set_defaults(handler=cmd_public_key)
