"""`cme shred due|verify`: the retention job by hand, and a signed shredding certificate."""

from __future__ import annotations

import argparse

from cme.cli.arguments import a_date, a_new_file, an_actor, an_id
from cme.listings import add_format_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cme.shred import cmd_shred

    shred = sub.add_parser("shred", help="crypto-shredding at 25 (retention)")
    sh_sub = shred.add_subparsers(dest="shred_command", metavar="ACTION", required=True)
    due = sh_sub.add_parser("due", help="run the retention job now (as the daily schedule does)")
    due.add_argument(
        "--today",
        type=a_date,
        help="YYYY-MM-DD: the day to run as (default: today); a later day only previews",
    )
    due.add_argument(
        "--confirm-early",
        action="store_true",
        help="with a later --today: shred those not yet 25 for good (irreversible; recorded "
        "against each child as retention_brought_forward by --actor)",
    )
    due.add_argument("--actor", type=an_actor, help="who confirms --confirm-early (recorded)")
    add_format_option(due)  # of the dry run's list
    due.set_defaults(handler=cmd_shred)
    verify_shred = sh_sub.add_parser("verify", help="scan every store; print a signed certificate")
    verify_shred.add_argument("child_id", type=an_id)
    verify_shred.add_argument(
        "--out", type=a_new_file, help="also write the certificate to this (new) file"
    )
    verify_shred.set_defaults(handler=cmd_shred)
