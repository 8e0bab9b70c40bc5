"""Subcommands that grow with the domain (demo, keys, ...), registered on the parser."""

from __future__ import annotations

import argparse


def _cmd_demo(args: argparse.Namespace) -> int:
    from cme.cli import _cmd_status

    print("the demo shows the system status until the workers exist")
    return _cmd_status(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the main job over a synthetic county")
    demo.add_argument("--services", action="store_true", help="use PostgreSQL and Kafka")
    demo.set_defaults(handler=_cmd_demo)
