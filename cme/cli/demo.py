"""`cme demo`: the main job over a synthetic county, end to end."""

from __future__ import annotations

import argparse

from cme.cli.arguments import a_count


def _cmd_demo(args: argparse.Namespace) -> int:
    from devtools.demo import run_demo

    return run_demo(args.services, args.messages, args.seed)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the main job over a synthetic county")
    demo.add_argument("--services", action="store_true", help="use PostgreSQL and Kafka")
    demo.add_argument(
        "--messages", type=a_count, default=4000, help="upstream messages to generate"
    )
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(handler=_cmd_demo)
