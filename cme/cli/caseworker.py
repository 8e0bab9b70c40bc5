"""`cme caseworker open-cases|overdue|dfe-return|child`: quick caseworker queries."""

from __future__ import annotations

import argparse
import sys

from cme.cli.arguments import a_count, an_id
from cme.listings import add_format_option
from cme.settings import load_settings


def _cmd_caseworker(args: argparse.Namespace) -> int:
    from cme import caseworker_views as views
    from cme.bootstrap import read_models
    from cme.db.roles import Role

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
            tables = views.child_summary(store, str(args.child_id))
            if not tables:
                print(f"no child {args.child_id} in the caseworker read models", file=sys.stderr)
                return 1
        views.print_all(tables, args.format)
    finally:
        close()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    caseworker = sub.add_parser("caseworker", help="quick caseworker queries")
    cw_sub = caseworker.add_subparsers(dest="view", metavar="VIEW", required=True)
    for name, text in (
        ("open-cases", "open cases, longest open first"),
        ("overdue", "overdue reviews, long-unknown whereabouts, unconfirmed moves"),
        ("dfe-return", "the DfE termly CME return counts"),
    ):
        view = cw_sub.add_parser(name, help=text)
        view.add_argument("--limit", type=a_count, default=20)
        view.add_argument(
            "--days", type=a_count, default=28, help="whereabouts unknown for at least"
        )
        add_format_option(view)
        view.set_defaults(handler=_cmd_caseworker)
    child = cw_sub.add_parser("child", help="one child's summary and case timeline")
    child.add_argument("child_id", type=an_id)
    add_format_option(child)
    child.set_defaults(handler=_cmd_caseworker)
