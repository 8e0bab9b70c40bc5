"""Subcommands that grow with the domain (demo, keys, ...), registered on the parser."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from cme.settings import Settings, load_settings


def _cmd_demo(args: argparse.Namespace) -> int:
    from cme.demo import run_demo

    return run_demo(args.services, args.messages, args.seed)


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Re-wrap every data key under the current (first) KEK; events are untouched."""
    from cme.bootstrap import build_application

    app = build_application(load_settings())
    try:
        current = app.data_keys.keks.current.key_id
        count = app.data_keys.rotate(batch=args.batch)
    finally:
        app.close()
    print(f"re-wrapped {count} data keys under {current}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import threading

    from cme import logs
    from cme.runtime import WORKERS, run_embedded, start_workers
    from cme.settings import Mode
    from consumers.lifecycle import install_signal_handlers

    unknown = [w for w in args.workers if w not in WORKERS]
    if unknown:
        print(f"unknown worker(s): {', '.join(unknown)}; the workers are {', '.join(WORKERS)}")
        return 2
    logs.configure()
    settings = load_settings()
    stop = threading.Event()
    install_signal_handlers(stop)
    if settings.effective_mode is Mode.EMBEDDED:
        return run_embedded(settings, stop)
    running = start_workers(settings, args.workers or list(WORKERS), stop)
    died = running.join(stop)
    if died:
        print(f"cme run: {died}; restart it to resume where it stopped", file=sys.stderr)
        return 1
    return 0


def _cmd_parked(args: argparse.Namespace) -> int:
    from cme.runtime import read_models

    store, close = read_models(load_settings())
    try:
        parked = store.parked()
    finally:
        close()
    for event in parked:
        print(
            f"{event.originator_id}\tv{event.version}\t{event.topic}\t{event.parked_at}\t"
            f"{event.reason}"
        )
    print(f"{len(parked)} parked event(s)", file=sys.stderr)
    return 0


def _cmd_replay_parked(args: argparse.Namespace) -> int:
    from cme.bootstrap import build_data_keys
    from cme.runtime import read_models
    from consumers.projection_feed import replay_parked
    from crypto_shredding.mapper import cme_mapper

    settings = load_settings()
    store, close = read_models(settings)
    data_keys, close_keys = build_data_keys(settings)
    try:
        fed = replay_parked(cme_mapper(data_keys), store)
    finally:
        close()
        close_keys()
    print(f"applied {fed.applied} parked event(s); {fed.parked} still parked")
    return 0 if fed.parked == 0 else 1


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from cme.rebuild import rebuild

    rebuild(load_settings())
    return 0


def _cmd_caseworker(args: argparse.Namespace) -> int:
    from cme import caseworker_views as views
    from cme.db.roles import Role
    from cme.runtime import read_models

    store, close = read_models(load_settings(), Role.CASEWORKER)
    try:
        if args.view == "open-cases":
            tables = [views.open_cases(store, args.limit)]
        elif args.view == "overdue":
            tables = [
                views.overdue_reviews(store, args.limit),
                views.whereabouts_unknown(store, args.days, args.limit),
                views.moves_awaiting_confirmation(store, args.limit),
            ]
        elif args.view == "dfe-return":
            tables = views.dfe_return(store)
        else:
            tables = views.child_summary(store, args.child_id)
            if not tables:
                print(f"no child {args.child_id} in the caseworker read models")
                return 1
        views.print_all(tables)
    finally:
        close()
    return 0


def _cmd_audit_tools(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path
    from uuid import UUID

    from cme import audit_tools
    from cme.bootstrap import build_application
    from cme.db.roles import Role, role_url
    from cme.rights import plain

    settings = load_settings()
    if args.audit_command == "export":
        count = audit_tools.export(
            role_url(settings, Role.AUDITOR), args.start, args.end, Path(args.out)
        )
        print(f"exported {count} ledger entries and every checkpoint to {args.out}")
        return 0
    app = build_application(settings)
    try:
        if args.audit_command == "report":
            print(json.dumps(audit_tools.report(role_url(settings, Role.AUDITOR), app), indent=2))
        elif args.audit_command == "history":
            rows = audit_tools.history(app, UUID(args.child_id), args.actor, args.why)
            print(json.dumps(rows, indent=2))
        elif args.projections:
            events, children = audit_tools.replay_projections(
                app, _instant(args.as_of), Path(args.projections), args.actor, args.why
            )
            print(
                f"wrote {args.projections}: the read models as at {args.as_of}, from {events} "
                f"events; it holds personal values of {children} children (each read recorded)"
            )
        elif args.id is None:
            print("give an id, or --projections FILE", file=sys.stderr)
            return 2
        else:
            state = audit_tools.replay(
                app, UUID(args.id), _instant(args.as_of), args.actor, args.why
            )
            if state is None:
                print(f"{args.id} did not exist at {args.as_of}")
                return 1
            print(json.dumps(plain(vars(state)), indent=2, default=str))
    finally:
        app.close()
    return 0


def _instant(text: str) -> datetime:
    """An ISO timestamp; one without an offset would compare ambiguously with stored UTC."""
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        msg = f"--as-of {text!r} has no UTC offset; add one, e.g. {text}+00:00"
        raise SystemExit(msg)
    return instant


def _cmd_audit(args: argparse.Namespace) -> int:
    from cme.db.roles import Role, role_url
    from cme.secrets import load_ledger_signer

    settings = load_settings()
    if args.audit_command == "public-key":
        signer = load_ledger_signer(settings)
        print(f"{signer.key_id}:{signer.public_key_b64()}")
        return 0
    if args.audit_command in {"checkpoint", "replay-parked"}:
        from cme.bootstrap import open_pool
        from consumers.ledger import LedgerWriter

        pool = open_pool(role_url(settings, Role.LEDGER), "cme-ledger")
        try:
            writer = LedgerWriter(pool, load_ledger_signer(settings))
            if args.audit_command == "replay-parked":
                appended, still = writer.replay_parked()
                print(f"appended {appended} parked event(s) to the ledger; {still} still parked")
                return 0 if still == 0 else 1
            seq = writer.checkpoint()
        finally:
            pool.close()
        print(f"signed the ledger head at entry {seq}")
        return 0
    if args.audit_command == "parked":
        import psycopg

        with psycopg.connect(role_url(settings, Role.AUDITOR)) as conn:
            rows = conn.execute(
                "SELECT notification_id, topic, parked_at, reason FROM ledger.parked "
                "ORDER BY notification_id"
            ).fetchall()
        for nid, topic, parked_at, reason in rows:
            print(f"{nid}\t{topic}\t{parked_at.isoformat()}\t{reason}")
        print(f"{len(rows)} event(s) parked outside the ledger", file=sys.stderr)
        return 0
    return _audit_verify(settings, args)


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from cme.audit import ledger_parked, verify_ledger
    from cme.db.roles import Role, role_url
    from cme.secrets import load_ledger_signer
    from crypto_shredding.signing import CheckpointVerifier

    verifier = (
        CheckpointVerifier.from_text(args.public_key)
        if args.public_key
        else load_ledger_signer(settings).verifier()
    )
    with Progress(transient=True) as progress:
        task = progress.add_task("verifying the ledger's hash chain", total=None)
        result = verify_ledger(
            role_url(settings, Role.AUDITOR),
            verifier,
            progress=lambda n: progress.update(task, completed=n),
        )
    if result.ok:
        print(
            f"OK: {result.entries} entries chained, {result.checkpoints} signed checkpoints valid"
        )
        parked = ledger_parked(role_url(settings, Role.AUDITOR))
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


def _register_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="auditor tools (read-only auditor role)")
    a_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = a_sub.add_parser("verify", help="recompute the ledger's chain, check checkpoints")
    verify.add_argument("--public-key", help="'kid:base64' checkpoint key(s) to trust")
    verify.set_defaults(handler=_cmd_audit)
    a_sub.add_parser("checkpoint", help="sign the ledger head now").set_defaults(handler=_cmd_audit)
    a_sub.add_parser(
        "parked", help="events the ledger writer could not make entries of, and why"
    ).set_defaults(handler=_cmd_audit)
    a_sub.add_parser(
        "replay-parked", help="append the parked events (after a fix), as the ledger role"
    ).set_defaults(handler=_cmd_audit)
    a_sub.add_parser("public-key", help="print the checkpoint verification key").set_defaults(
        handler=_cmd_audit
    )
    history = a_sub.add_parser("history", help="a child's whole timeline (the read is recorded)")
    history.add_argument("child_id")
    replay = a_sub.add_parser(
        "replay", help="a child, case or request, or the read models, as at an instant"
    )
    replay.add_argument("id", nargs="?", help="a child, case or request id")
    replay.add_argument("--as-of", required=True, help="ISO timestamp with offset")
    replay.add_argument(
        "--projections",
        metavar="FILE",
        help="instead: the caseworker read models, to a SQLite file",
    )
    for reader in (history, replay):
        reader.add_argument("--actor", required=True, help="who is reading (recorded)")
        reader.add_argument("--why", required=True, help="the purpose of the read (recorded)")
        reader.set_defaults(handler=_cmd_audit_tools)
    export = a_sub.add_parser("export", help="the ledger as JSON Lines with its checkpoints")
    export.add_argument("--from", dest="start", help="ISO timestamp (recorded_at >=)")
    export.add_argument("--to", dest="end", help="ISO timestamp (recorded_at <)")
    export.add_argument("--out", required=True)
    export.set_defaults(handler=_cmd_audit_tools)
    a_sub.add_parser("report", help="disclosures, refusals, rights requests").set_defaults(
        handler=_cmd_audit_tools
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the main job over a synthetic county")
    demo.add_argument("--services", action="store_true", help="use PostgreSQL and Kafka")
    demo.add_argument("--messages", type=int, default=4000, help="upstream messages to generate")
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(handler=_cmd_demo)

    keys = sub.add_parser("keys", help="data-key administration")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = keys_sub.add_parser(
        "rotate", help="re-wrap every data key under the current KEK (put the new KEK first)"
    )
    rotate.add_argument("--batch", type=int, default=500)
    rotate.set_defaults(handler=_cmd_keys_rotate)

    from cme import intake_cli

    intake_cli.register(sub)

    run = sub.add_parser("run", help="run the workers (the main job)")
    run.add_argument(
        "workers",
        nargs="*",
        default=[],
        help="intake, relay, projector, ledger, retention (default: all)",
    )
    run.set_defaults(handler=_cmd_run)

    projections = sub.add_parser("projections", help="read-model administration")
    p_sub = projections.add_subparsers(dest="projections_command", metavar="ACTION", required=True)
    rebuild = p_sub.add_parser(
        "rebuild", help="rebuild the caseworker read models from the event store and swap them in"
    )
    rebuild.set_defaults(handler=_cmd_rebuild)
    p_sub.add_parser(
        "parked", help="events the projector set aside, and why (the other rows flow on)"
    ).set_defaults(handler=_cmd_parked)
    p_sub.add_parser(
        "replay-parked", help="apply the parked events again (after a fix), in version order"
    ).set_defaults(handler=_cmd_replay_parked)

    _register_audit(sub)

    from cme.shred import cmd_shred

    shred = sub.add_parser("shred", help="crypto-shredding at 25 (retention)")
    sh_sub = shred.add_subparsers(dest="shred_command", metavar="ACTION", required=True)
    due = sh_sub.add_parser("due", help="run the retention job now (as the daily schedule does)")
    due.add_argument("--today", help="YYYY-MM-DD: the day to run as (default: today)")
    due.set_defaults(handler=cmd_shred)
    verify_shred = sh_sub.add_parser("verify", help="scan every store; print a signed certificate")
    verify_shred.add_argument("child_id")
    verify_shred.add_argument("--out", help="also write the certificate to this file")
    verify_shred.set_defaults(handler=cmd_shred)

    _register_more(sub)


def _register_more(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cme import rights_cli

    rights_cli.register(sub)

    caseworker = sub.add_parser("caseworker", help="quick caseworker queries")
    cw_sub = caseworker.add_subparsers(dest="view", metavar="VIEW", required=True)
    for name, text in (
        ("open-cases", "open cases, longest open first"),
        ("overdue", "overdue reviews, long-unknown whereabouts, unconfirmed moves"),
        ("dfe-return", "the DfE termly CME return counts"),
    ):
        view = cw_sub.add_parser(name, help=text)
        view.add_argument("--limit", type=int, default=20)
        view.add_argument("--days", type=int, default=28, help="whereabouts unknown for at least")
        view.set_defaults(handler=_cmd_caseworker)
    child = cw_sub.add_parser("child", help="one child's summary and case timeline")
    child.add_argument("child_id")
    child.set_defaults(handler=_cmd_caseworker)
