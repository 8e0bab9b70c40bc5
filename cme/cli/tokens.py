"""`cme tokens issue`: a development access token for trying the API with no identity provider."""

from __future__ import annotations

import argparse
import re

from cme.cli.arguments import token_minutes
from cme.settings import load_settings

SUBJECT = re.compile(r"^[A-Za-z0-9._:@/-]{1,70}$")


def _subject(text: str) -> str:
    if not SUBJECT.match(text):
        msg = "a subject is 1-70 of A-Z a-z 0-9 . _ : @ / -"
        raise argparse.ArgumentTypeError(msg)
    return text


def _cmd_issue(args: argparse.Namespace) -> int:
    from cme import dev_issuer

    settings = load_settings()
    dev_issuer.allowed(settings, settings.dev_issuer)
    print(dev_issuer.issue(settings, args.role, args.sub, args.minutes))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cme.dev_issuer import ROLES

    tokens = sub.add_parser("tokens", help="development access tokens for the API (embedded mode)")
    t_sub = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    issue = t_sub.add_parser("issue", help="print a signed development token for its roles")
    issue.add_argument(
        "--role", required=True, choices=ROLES, action="append", help="repeat for several"
    )
    issue.add_argument("--sub", required=True, type=_subject, help="the staff id, e.g. officer-1")
    issue.add_argument("--minutes", type=token_minutes, default=60, metavar="1..1440")
    issue.set_defaults(handler=_cmd_issue)
