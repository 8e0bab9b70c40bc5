"""`cme audit ...`: the auditor's tools: verify, checkpoint, history, replay, export, report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cme.cli.arguments import (
    a_new_file,
    a_text_file,
    an_actor,
    an_entry_number,
    an_id,
    an_instant,
    minutes,
)
from cme.listings import Listing, add_format_option, render
from cme.private_files import write_private
from cme.settings import Settings, load_settings
from domain.values import AuditPurpose

if TYPE_CHECKING:
    from cme.audit import Anchor
    from crypto_shredding.signing import CheckpointVerifier
    from projections.ledger_store import Checkpoint


def _cmd_audit_tools(args: argparse.Namespace) -> int:
    import json

    from application import audit
    from application.subject_access import aggregate_state
    from cme import audit_tools
    from cme.bootstrap import build_application
    from cme.db.roles import Role, role_url

    settings = load_settings()
    if args.audit_command == "export":
        count = audit_tools.export(
            role_url(settings, Role.AUDITOR),
            args.start,
            args.end,
            args.out,
        )
        print(f"exported {count} ledger entries and every checkpoint to {args.out}")
        return 0
    app = build_application(settings)
    try:
        if args.audit_command == "report":
            print(json.dumps(audit_tools.report(role_url(settings, Role.AUDITOR), app), indent=2))
        elif args.audit_command == "history":
            rows = audit.history(app, args.child_id, args.actor, args.why)
            print(json.dumps(rows, indent=2))
        elif args.projections and args.id is not None:
            print(
                "error: give an id (one aggregate's state) or --projections FILE (every read "
                "model), not both",
                file=sys.stderr,
            )
            return 2
        elif args.projections:
            events, children = audit_tools.replay_projections(
                app, args.as_of, args.projections, args.actor, args.why
            )
            print(
                f"wrote {args.projections}: the read models as at {args.as_of}, from {events} "
                f"events; it holds personal values of {children} children (each read recorded)"
            )
        elif args.id is None:
            print("give an id, or --projections FILE", file=sys.stderr)
            return 2
        else:
            state = audit.replay(app, args.id, args.as_of, args.actor, args.why)
            if state is None:
                print(f"{args.id} did not exist at {args.as_of}", file=sys.stderr)
                return 1
            print(json.dumps(aggregate_state(state), indent=2))
    finally:
        app.close()
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from cme.db.roles import Role, role_url
    from cme.secrets import load_ledger_signer

    settings = load_settings()
    if args.audit_command == "public-key":
        signer = load_ledger_signer(settings)
        print(f"{signer.key_id}:{signer.public_key_b64()}")
        return 0
    if args.audit_command in {"checkpoint", "replay-parked", "anchor"}:
        from cme.bootstrap import open_pool
        from consumers.ledger import LedgerWriter

        pool = open_pool(role_url(settings, Role.LEDGER), "cme-ledger")
        signer = load_ledger_signer(settings)
        try:
            writer = LedgerWriter(pool, signer)
            if args.audit_command == "replay-parked":
                appended, still = writer.replay_parked()
                print(f"appended {appended} parked event(s) to the ledger; {still} still parked")
                return 0 if still == 0 else 1
            seq = writer.checkpoint()
        finally:
            pool.close()
        head = _head_checkpoint(settings, seq, signer.verifier())
        if args.audit_command == "anchor":
            return _write_anchor(head, args.out)
        print(f"the ledger head at entry {seq} is signed (its checkpoint verified)")
        return 0
    if args.audit_command == "parked":
        from projections.ledger_store import LedgerReader

        rows = LedgerReader(role_url(settings, Role.AUDITOR)).parked()
        columns = ["notification_id", "topic", "parked_at", "reason"]
        shown = [{c: getattr(row, c) for c in columns} for row in rows]
        render([Listing("events parked outside the ledger", columns, shown)], args.format)
        return 0
    return _audit_verify(settings, args)


def _cmd_audit_proof(args: argparse.Namespace) -> int:
    from cme.audit_proof import ProofError
    from cme.db.roles import Role, role_url
    from consumers import strict_json

    settings = load_settings()
    verifier = _trusted_key(settings, args.public_key)
    try:
        if args.audit_command == "prove":
            return _prove(role_url(settings, Role.AUDITOR), verifier, args)
        # Strict: a member twice would let a file that checks OK carry another entry.
        document = strict_json.loads(args.proof.read_bytes(), strict_json.Limits(string=100_000))
        return _check(document, verifier, args)
    except ProofError as error:
        print(f"cme audit {args.audit_command}: {error}", file=sys.stderr)
    except strict_json.JsonRefusedError as refused:
        print(f"cme audit check-proof: {args.proof} is not a proof: {refused}", file=sys.stderr)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        print(f"cme audit check-proof: cannot read {args.proof}: {reason}", file=sys.stderr)
    return 1


def _check(document: Any, verifier: CheckpointVerifier, args: argparse.Namespace) -> int:
    from cme.audit_proof import CONSISTENCY_TYPE, check_consistency, check_proof

    if isinstance(document, dict) and document.get("type") == CONSISTENCY_TYPE:
        if args.anchor is None:
            print(
                "cme audit check-proof: a consistency proof is checked against the anchor "
                "you kept: give --anchor FILE",
                file=sys.stderr,
            )
            return 2
        extended = check_consistency(document, verifier, _read_anchor(args.anchor, "check-proof"))
        print(
            f"OK: the ledger signed at entry {extended.new.seq} extends your anchor at entry "
            f"{extended.old.seq}: nothing up to it was removed, reordered or changed"
        )
        return 0
    if args.anchor is not None:
        print(
            "cme audit check-proof: --anchor is for a consistency proof (prove --since); "
            "this file is not one",
            file=sys.stderr,
        )
        return 2
    entry = check_proof(document, verifier)
    print(
        f"OK: entry {document['seq']} ({entry.get('kind')}, child {entry.get('child_id')}) is in "
        f"the ledger signed at entry {document['tree_size']} by key "
        f"{document['checkpoint']['key_id']}"
    )
    return 0


def _prove(url: str, verifier: CheckpointVerifier, args: argparse.Namespace) -> int:
    from cme.audit_proof import build_consistency, build_proof

    if args.since is not None:
        extended = build_consistency(url, _read_anchor(args.since, "prove"), verifier)
        write_private(args.out, extended.model_dump_json(indent=2) + "\n")
        print(
            f"wrote {args.out}: the ledger signed at entry {extended.new.seq} extends the anchor "
            f"at entry {extended.old.seq} ({len(extended.path)} hashes; no entry in it)"
        )
        return 0
    proof = build_proof(url, args.seq, verifier)
    write_private(args.out, proof.model_dump_json(indent=2) + "\n")
    print(
        f"wrote {args.out}: entry {args.seq} ({len(proof.audit_path)} hashes to the "
        f"Merkle root signed at entry {proof.tree_size}); it holds that entry only"
    )
    return 0


def _trusted_key(settings: Settings, given: CheckpointVerifier | None) -> CheckpointVerifier:
    """The key given, else CME_LEDGER_PUBLIC_KEY; only a development store uses its own.

    Never a key made here: a checker with none would call every genuine
    signature forged.
    """
    from cme.secrets import load_ledger_signer, load_ledger_verifier

    if given is not None:
        return given
    if settings.ledger_public_key:
        return load_ledger_verifier(settings)
    own = settings.ledger_signing_key or settings.ledger_signing_key_file
    if own is None and not (settings.secrets_dir / "ledger-signing-key").exists():
        msg = (
            "no ledger key to check signatures with: give --public-key KID:BASE64 (what "
            "`cme audit public-key` prints where the ledger is kept) or set CME_LEDGER_PUBLIC_KEY"
        )
        raise SystemExit(msg)
    return load_ledger_signer(settings).verifier()


def _head_checkpoint(settings: Settings, seq: int, verifier: CheckpointVerifier) -> Checkpoint:
    """The checkpoint over the head, once checked: nothing unverified is reported or kept.

    A checkpoint row altered or forged in the table (even one past the head)
    stops the writer signing; saying "signed", or anchoring that row, would
    hand the auditor evidence that fails later.
    """
    from cme.db.roles import Role, role_url
    from projections.ledger_store import LedgerReader

    ledger = LedgerReader(role_url(settings, Role.AUDITOR))
    checkpoints = ledger.checkpoints()
    entry = ledger.entry(seq) if seq else None
    at_head = [c for c in checkpoints if c.seq == seq]
    if entry is None or not checkpoints:
        msg = "cme audit: the ledger is empty: nothing to sign or anchor"
        raise SystemExit(msg)
    good = (
        at_head
        and checkpoints[-1].seq == seq
        and at_head[0].head_hash == entry.entry_hash
        and verifier.valid(at_head[0].key_id, at_head[0].message(), at_head[0].signature)
    )
    if not good:
        msg = (
            f"cme audit: the checkpoint over the head (entry {seq}) does not verify, or one "
            "lies past it (altered or put in by hand): nothing was signed or kept; run "
            "`cme audit verify`"
        )
        raise SystemExit(msg)
    return at_head[0]


def _write_anchor(head: Checkpoint, out: Path) -> int:
    """The head just signed, as a file the auditor keeps to prove later appends only."""
    from cme.audit import Anchor

    anchor = Anchor.from_checkpoint(head)
    try:
        write_private(out, anchor.to_json() + "\n")
    except OSError as error:
        msg = f"cme audit anchor: cannot write {out}: {error.strerror or type(error).__name__}"
        raise SystemExit(msg) from None
    print(f"anchored the ledger at entry {anchor.seq}: keep {out} apart from the ledger")
    return 0


def _read_anchor(path: Path, command: str = "verify") -> Anchor:
    """A missing, unreadable or foreign anchor file is the auditor's slip: one line, not a trace."""
    from cme.audit import Anchor

    who = f"cme audit {command}"
    try:
        return Anchor.from_text(path.read_text())
    except OSError as error:
        reason = error.strerror or type(error).__name__
        msg = f"{who}: cannot read the anchor file {path}: {reason}"
    except UnicodeDecodeError:
        msg = f"{who}: {path} is not text, so not an anchor or ledger export"
    except RecursionError:
        msg = f"{who}: {path} is nested too deeply to be an anchor or ledger export"
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        msg = f"{who}: {path} is not an anchor or ledger export: {error}"
    raise SystemExit(msg)


def _a_public_key(text: str) -> CheckpointVerifier:
    from crypto_shredding.signing import CheckpointVerifier

    try:
        return CheckpointVerifier.from_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from rich.console import Console
    from rich.progress import Progress

    from cme.audit import verify_ledger
    from cme.db.roles import Role, role_url
    from projections.ledger_store import LedgerReader

    anchor = _read_anchor(args.anchor) if args.anchor else None
    verifier = _trusted_key(settings, args.public_key)
    # Progress on a terminal only, on stderr: stdout keeps the verdict as its first line.
    console = Console(stderr=True)
    with Progress(transient=True, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("verifying the ledger's hash chain", total=None)
        result = verify_ledger(
            role_url(settings, Role.AUDITOR),
            verifier,
            progress=lambda n: progress.update(task, completed=n),
            anchor=anchor,
            tail_grace=timedelta(minutes=args.tail_grace),
            deep=args.deep,
        )
    for warning in result.warnings:
        print(f"WARNING: {warning}")
    if result.ok:
        extends = f"; extends the anchor at entry {anchor.seq}" if anchor else ""
        print(
            f"OK: {result.entries} entries chained, {result.checkpoints} signed checkpoints "
            f"valid{extends}"
        )
        parked = LedgerReader(role_url(settings, Role.AUDITOR)).parked_count()
        if parked:
            print(
                f"INCOMPLETE: {parked} event(s) parked outside the ledger; "
                "see `cme audit parked`, and `cme audit replay-parked` after a fix"
            )
            return 1
        return 0
    for problem in result.problems:
        print(f"BROKEN: {problem}")
    print(f"checked {result.entries} entries and {result.checkpoints} checkpoints")
    return 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="auditor tools (read-only auditor role)")
    a_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = a_sub.add_parser("verify", help="recompute the ledger's chain, check checkpoints")
    verify.add_argument(
        "--public-key", type=_a_public_key, help="'kid:base64' checkpoint key(s) to trust"
    )
    verify.add_argument(
        "--anchor",
        type=a_text_file,
        help="a signed head kept earlier (`cme audit anchor`, or an export)",
    )
    verify.add_argument(
        "--tail-grace",
        type=minutes,
        default=10,
        help="minutes an entry may stay signed by no checkpoint (default 10)",
    )
    verify.add_argument(
        "--deep",
        action="store_true",
        help="derive every entry again from its event, signed or not (if the ledger's "
        "signing key may have been misused; a pass over every event)",
    )
    verify.set_defaults(handler=_cmd_audit)
    a_sub.add_parser("checkpoint", help="sign the ledger head now").set_defaults(handler=_cmd_audit)
    prove = a_sub.add_parser(
        "prove",
        help="one entry and the Merkle proof that the signed ledger holds it, with no other "
        "entry; or (--since) that today's ledger extends an anchor",
    )
    what = prove.add_mutually_exclusive_group(required=True)
    what.add_argument("seq", nargs="?", type=an_entry_number, help="the entry's number (seq)")
    what.add_argument(
        "--since", metavar="ANCHOR", type=a_text_file, help="an anchor kept earlier (or an export)"
    )
    prove.add_argument("--out", required=True, type=a_new_file, help="a new file")
    prove.add_argument(
        "--public-key",
        type=_a_public_key,
        help="'kid:base64': prove from the newest checkpoint this key signed",
    )
    prove.set_defaults(handler=_cmd_audit_proof)
    check = a_sub.add_parser(
        "check-proof", help="check a `cme audit prove` file against the ledger's public key"
    )
    check.add_argument("proof", type=a_text_file, help="the proof file")
    check.add_argument(
        "--anchor", type=a_text_file, help="for a consistency proof: the anchor you kept"
    )
    check.add_argument(
        "--public-key", type=_a_public_key, help="'kid:base64' checkpoint key(s) to trust"
    )
    check.set_defaults(handler=_cmd_audit_proof)
    anchor = a_sub.add_parser(
        "anchor", help="sign the head now and write it to a file to verify against later"
    )
    anchor.add_argument("--out", required=True, type=a_new_file, help="a new file")
    anchor.set_defaults(handler=_cmd_audit)
    parked = a_sub.add_parser(
        "parked", help="events the ledger writer could not make entries of, and why"
    )
    add_format_option(parked)
    parked.set_defaults(handler=_cmd_audit)
    a_sub.add_parser(
        "replay-parked", help="append the parked events (after a fix), as the ledger role"
    ).set_defaults(handler=_cmd_audit)
    a_sub.add_parser("public-key", help="print the checkpoint verification key").set_defaults(
        handler=_cmd_audit
    )
    history = a_sub.add_parser("history", help="a child's whole timeline (the read is recorded)")
    history.add_argument("child_id", type=an_id)
    replay = a_sub.add_parser(
        "replay", help="a child, case or request, or the read models, as at an instant"
    )
    replay.add_argument("id", nargs="?", type=an_id, help="a child, case or request id")
    replay.add_argument("--as-of", required=True, type=an_instant, help="ISO timestamp with offset")
    replay.add_argument(
        "--projections",
        metavar="FILE",
        type=a_new_file,
        help="instead: the caseworker read models, to a new SQLite file",
    )
    for reader in (history, replay):
        reader.add_argument(
            "--actor", required=True, type=an_actor, help="who is reading (recorded)"
        )
        reader.add_argument(
            "--why",
            required=True,
            choices=[purpose.value for purpose in AuditPurpose],
            help="the purpose of the read, recorded in clear in the ledger (hence a closed list)",
        )
        reader.set_defaults(handler=_cmd_audit_tools)
    export = a_sub.add_parser("export", help="the ledger as JSON Lines with its checkpoints")
    export.add_argument(
        "--from", dest="start", type=an_instant, help="ISO timestamp (recorded_at >=)"
    )
    export.add_argument("--to", dest="end", type=an_instant, help="ISO timestamp (recorded_at <)")
    export.add_argument("--out", required=True, type=a_new_file, help="a new file")
    export.set_defaults(handler=_cmd_audit_tools)
    a_sub.add_parser("report", help="disclosures, refusals, rights requests").set_defaults(
        handler=_cmd_audit_tools
    )
