"""`cme keys rotate`: re-wrap every data key under the current key-encryption key."""

from __future__ import annotations

import argparse

from cme.cli.arguments import a_count
from cme.settings import load_settings


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Re-wrap every data key under the current (first) KEK; events are untouched.

    The count of keys left under each other KEK is what tells an operator the
    old KEK may go: README's procedure removes it only when that count is 0.
    """
    from cme.bootstrap import build_application

    app = build_application(load_settings())
    try:
        current = app.data_keys.keks.current.key_id
        count = app.data_keys.rotate(batch=args.batch)
        left = dict.fromkeys(app.data_keys.keks.key_ids, 0) | app.data_keys.store.count_by_kek()
    finally:
        app.close()
    print(f"re-wrapped {count} data keys under {current}")
    print(f"  {current}: {left.get(current, 0)} keys (current)")
    others = {kek: n for kek, n in left.items() if kek != current}
    for kek, n in others.items():
        print(f"  {kek}: {n} keys")
    if any(others.values()):
        print("some keys are still under an older KEK (written meanwhile?): run this again")
        return 1
    print("no key needs an older KEK: it may now be removed from CME_KEK")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="data-key administration")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = keys_sub.add_parser(
        "rotate", help="re-wrap every data key under the current KEK (put the new KEK first)"
    )
    rotate.add_argument(
        "--batch", type=a_count, default=500, help="keys re-wrapped per transaction"
    )
    rotate.set_defaults(handler=_cmd_keys_rotate)
