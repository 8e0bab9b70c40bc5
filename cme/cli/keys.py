"""`cme keys rotate`: re-wrap every data key under the current key-encryption key."""

from __future__ import annotations

import argparse

from cme.settings import load_settings


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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="data-key administration")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = keys_sub.add_parser(
        "rotate", help="re-wrap every data key under the current KEK (put the new KEK first)"
    )
    rotate.add_argument("--batch", type=int, default=500)
    rotate.set_defaults(handler=_cmd_keys_rotate)
