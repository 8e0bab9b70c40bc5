"""`cme rights ...`: receive, progress and decide data-subject requests; access; overdue.

Every step is a domain command, so the same rules (and the same clear,
value-free errors) apply as through any other entry point. Dates default to
the application's today.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from application.erasure import decide
from application.rectification import correction, rectify, unknown_detail
from application.statutory_clock import overdue
from application.subject_access import access_package
from cme.bootstrap import App, build_application, build_retention_job
from cme.cli.arguments import a_date, a_folder, an_actor, an_id
from cme.listings import Listing, add_format_option, render
from cme.private_files import exports_folder, write_private
from cme.rights_steps import STEPS
from cme.settings import load_settings
from domain import commands as c
from domain.errors import DestructionDateUnconfirmedError
from domain.values import ClockStopReason, RequestDecision, RightsRequestType


def _on(args: argparse.Namespace, app: App) -> date:
    on: date | None = getattr(args, "on", None)
    return on or app.today()


def _a_correction(pair: str) -> tuple[str, Any]:
    """``field=value``; a value that parses as JSON (an address object) is taken as JSON.

    What was typed is never repeated in the error: it is a person's details.
    """
    name, sep, raw = pair.partition("=")
    if not sep or not name.strip():
        msg = "needs FIELD=VALUE, e.g. preferred_name=Sam (what was typed is not repeated)"
        raise argparse.ArgumentTypeError(msg)
    refused = unknown_detail([name.strip()])
    if refused:
        raise argparse.ArgumentTypeError(str(refused))
    try:
        return name.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return name.strip(), raw


def cmd_rights(args: argparse.Namespace) -> int:  # noqa: PLR0911 - one branch per action
    settings = load_settings()
    app = build_application(settings)
    try:
        action = args.rights_command
        if action == "overdue":
            return _print_overdue(app, args)
        if action == "access":
            return _write_access(app, args, settings.data_dir)
        if action == "receive":
            request_id = app.receive_rights_request(
                c.ReceiveRightsRequest.of(
                    {
                        "actor": args.actor,
                        "child_id": args.child_id,
                        "request_type": args.type,
                        "received_on": _on(args, app),
                        "requester_name": args.requester_name,
                        "requester_contact": args.requester_contact,
                        "details": args.details,
                        "restrict_meanwhile": args.restrict_meanwhile,
                    }
                )
            )
            request = app.get_rights_request(request_id)
            print(f"request {request_id} received; due {request.due_on(app.today())}")
            return 0
        if action == "rectify":
            named = [name for name, _ in args.set]
            if len(set(named)) < len(named):
                print("error: --set names one detail twice; give each detail once", file=sys.stderr)
                return 2
            command = correction(
                app,
                args.child_id,
                dict(args.set),
                args.actor,
                args.request_id,
                args.confirm_destruction_date,
            )
            try:
                notice = rectify(app, command)
            except DestructionDateUnconfirmedError:
                return _preview_destruction_date(app, command)
            print(json.dumps(notice, indent=2))
            return 0
        if action == "lift-restriction":
            app.lift_restriction(
                c.LiftRestriction.of(
                    {
                        "actor": args.actor,
                        "child_id": args.child_id,
                        "request_id": args.request_id,
                    }
                )
            )
            print(f"processing of {args.child_id} is no longer restricted (recorded)")
            return 0
        if action == "decide":
            outcome = decide(
                app,
                build_retention_job(settings, app),
                args.request_id,
                RequestDecision(args.decision),
                args.explanation,
                args.actor,
            )
            print(json.dumps(outcome, indent=2))
            granted = outcome["type"] == "erasure" and outcome["decision"] != "refused"
            if granted and not outcome["shredded"]:
                print(
                    "the erasure is granted; a retention run holds the lock or a legal hold "
                    "stands: the next retention run shreds the child (or run this again)",
                    file=sys.stderr,
                )
            return 0
        return _run_step(app, action, args)
    finally:
        app.close()


def _run_step(app: App, action: str, args: argparse.Namespace) -> int:
    """A dated step of a request, then where the request stands: its due date, or why none."""
    step = STEPS[action]
    fields: dict[str, Any] = {"actor": args.actor, "request_id": args.request_id}
    if step.date_field:
        fields[step.date_field] = _on(args, app)
    fields |= {name: getattr(args, name) for name in step.extras}
    step.run(app, fields)
    request = app.get_rights_request(args.request_id)
    if request.closed_on is not None:
        print(f"request {args.request_id}: {action} recorded")
    elif request.clock_stopped:
        print(f"request {args.request_id}: {action} recorded; the clock is stopped")
    else:
        due = request.due_on(app.today())
        print(f"request {args.request_id}: {action} recorded; now due {due}")
    return 0


def _print_overdue(app: App, args: argparse.Namespace) -> int:
    today: date = args.today or app.today()
    rows = [
        row
        | {
            "state": "LATE" if row["days_left"] < 0 else f"due in {row['days_left']} days",
            "clock": "stopped" if row["clock_stopped"] else "running",
        }
        for row in overdue(app, today)
    ]
    columns = ["request_id", "child_id", "type", "received_on", "due_on", "state", "clock"]
    title = f"rights requests late or due within 7 days of {today}"
    render([Listing(title, columns, rows)], args.format)
    return 0


def _preview_destruction_date(app: App, command: c.RectifyChildDetails) -> int:
    """Show the officer (who typed the date of birth) the day the record would now go."""
    before = app.get_child(command.child_id).current_details().retention_until()
    after = command.details.retention_until()
    print(
        f"this correction moves the day the record is destroyed (the 25th birthday) from "
        f"{before} to {after}{' - a day already past' if after <= app.today() else ''}."
    )
    print(
        "nothing was changed; to make it, run it again with "
        f"--confirm-destruction-date {after} (recorded in the ledger)",
        file=sys.stderr,
    )
    return 1


def _write_access(app: App, args: argparse.Namespace, data_dir: Path) -> int:
    """Write the package owner-only; by default under the data folder, never the current one.

    The current folder is often a checkout, one ``git add .`` from committing a
    child's whole record.
    """
    folder: Path = args.out or exports_folder(data_dir)
    paths = [folder / f"sar-{args.child_id}.{kind}" for kind in ("json", "md")]
    taken = [path.name for path in paths if path.exists()]
    if taken:  # found before the read is recorded: a refused export reads nothing
        print(
            f"{' and '.join(taken)} already in {folder}: move them, or give another --out "
            "(nothing is overwritten)",
            file=sys.stderr,
        )
        return 1
    package = access_package(app, args.child_id, args.actor)
    write_private(paths[0], json.dumps(package, indent=2) + "\n")
    write_private(paths[1], markdown(package))
    print(
        f"wrote {folder}/sar-{args.child_id}.json and .md "
        f"({len(package['history'])} events, {len(package['recipients'])} recipients, "
        f"{len(package['third_party_data_for_review'])} third-party items to review)"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rights = sub.add_parser("rights", help="data-subject rights")
    r_sub = rights.add_subparsers(dest="rights_command", metavar="ACTION", required=True)

    def action(name: str, text: str, *, dated: bool = False) -> argparse.ArgumentParser:
        parser = r_sub.add_parser(name, help=text)
        parser.set_defaults(handler=cmd_rights)
        parser.add_argument(
            "--actor", required=True, type=an_actor, help="who is acting (recorded)"
        )
        if dated:
            parser.add_argument("--on", type=a_date, help="YYYY-MM-DD (default: today)")
        return parser

    access = action("access", "the subject access package (JSON and Markdown)")
    access.add_argument("child_id", type=an_id)
    access.add_argument(
        "--out",
        type=a_folder,
        help="an existing folder for sar-<id>.json and .md (owner-only files; "
        "default: $CME_DATA_DIR/exports)",
    )
    late = r_sub.add_parser("overdue", help="requests late or due within 7 days")
    late.add_argument("--today", type=a_date, help="YYYY-MM-DD (default: today)")
    add_format_option(late)
    late.set_defaults(handler=cmd_rights)

    receive = action(
        "receive",
        "record a request (restriction, rectification and objection restrict processing "
        "while considered; an erasure too with --restrict-meanwhile)",
        dated=True,
    )
    receive.add_argument("child_id", type=an_id)
    receive.add_argument("--type", required=True, choices=[t.value for t in RightsRequestType])
    receive.add_argument("--requester-name", required=True)
    receive.add_argument("--requester-contact")
    receive.add_argument("--details")
    receive.add_argument(
        "--restrict-meanwhile",
        action="store_true",
        help="erasure only: the requester asks that the data not be used while it is considered",
    )
    rectify_p = action("rectify", "correct details; lists recipients to tell (Art 19)")
    rectify_p.add_argument("child_id", type=an_id)
    rectify_p.add_argument(
        "--set", action="append", required=True, metavar="FIELD=VALUE", type=_a_correction
    )
    rectify_p.add_argument("--request-id", type=an_id)
    rectify_p.add_argument(
        "--confirm-destruction-date",
        type=a_date,
        metavar="YYYY-MM-DD",
        help="the new destruction date a corrected date of birth moves the record to",
    )
    lift = action("lift-restriction", "end a restriction of processing (recorded)")
    lift.add_argument("child_id", type=an_id)
    lift.add_argument("--request-id", type=an_id)
    decide_p = action("decide", "decide a request; a fulfilled erasure shreds now")
    decide_p.add_argument("request_id", type=an_id)
    decide_p.add_argument("--decision", required=True, choices=[d.value for d in RequestDecision])
    decide_p.add_argument("--explanation", help="required unless fulfilled: why")
    for name, step in STEPS.items():
        parser = action(name, step.help, dated=bool(step.date_field))
        parser.add_argument("request_id", type=an_id)
        if name == "stop-clock":
            reasons = [r.value for r in ClockStopReason]
            parser.add_argument("--reason", required=True, choices=reasons)
        elif "reason" in step.extras:
            parser.add_argument("--reason", required=True)
        if "months" in step.extras:
            parser.add_argument("--months", type=int, required=True, choices=[1, 2])


def markdown(package: dict[str, Any]) -> str:
    """The package for the requester to read: every section of the JSON, in plain words.

    Other people's data appears only in the last section, for review before release.
    """
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
        "## Why it is held",
        "",
        *[f"- {purpose.replace('_', ' ')}" for purpose in package["purposes"]],
        "",
        "## Where it came from",
        "",
        *([f"- {s}" for s in package["sources"]] or ["- no source recorded"]),
        "",
        "## Who it was shared with",
        "",
    ]
    lines += [
        f"- {r['recipient_organisation']} ({r['recipient_agency']}) on {r['disclosed_on']}: "
        f"{', '.join(r['categories'] or [])} for {r['purpose']} under {r['lawful_basis']}"
        for r in package["recipients"]
    ] or ["- nobody"]
    lines += ["", "## What was recorded, and when", ""]
    for event in package["history"]:
        facts = ", ".join(
            f"{k.replace('_', ' ')}: {_fact(v)}"
            for k, v in event["facts"].items()
            if v not in (None, "", [], {})
        )
        lines.append(f"- {event['when'][:19].replace('T', ' ')} {event['what']}: {facts}")
        if isinstance(event["personal_data"], dict):
            lines.append(f"  - details recorded: {json.dumps(event['personal_data'])}")
    lines += [
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
        "Not part of the package as it stands: each item is about someone other than the "
        "child, and is released only if the DPO decides it may be (UK GDPR Art 15(4)).",
        "",
    ]
    lines += [
        f"- {item['who']} ({item['field']}), in {', '.join(item['found_in'])}: "
        f"{json.dumps(item['details'])}"
        for item in third
    ] or ["- none"]
    return "\n".join(lines) + "\n"


def _fact(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
