"""Subcommands that grow with the domain (demo, keys, ...), registered on the parser."""

from __future__ import annotations

import argparse

from cme.settings import load_settings


def _cmd_demo(args: argparse.Namespace) -> int:
    from cme.cli import _cmd_status

    print("the demo shows the system status until the workers exist")
    return _cmd_status(args)


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
    from cme import intake_cli

    unknown = [w for w in args.workers if w not in {"intake"}]
    if unknown:
        print(f"unknown worker(s): {', '.join(unknown)}; known: intake")
        return 2
    return intake_cli.cmd_run_intake(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the main job over a synthetic county")
    demo.add_argument("--services", action="store_true", help="use PostgreSQL and Kafka")
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
    run.add_argument("workers", nargs="*", default=[], help="intake (more to come)")
    run.set_defaults(handler=_cmd_run)
