"""`cme senders add|list|revoke`: the council's register of who may send upstream messages.

A message is applied only if its seal opens (HPKE Auth mode) against a key
registered here for its ``sender``; a revoked sender's new messages are
quarantined as ``sender_not_authenticated``. Each change is an event in the
store, with who made it.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

from cme.bootstrap import build_application
from cme.cli.arguments import a_sender, an_actor
from cme.listings import Listing, add_format_option, render
from cme.settings import load_settings
from consumers.sealed_payload import PayloadSealingError, check_sender_public_key
from domain import commands as c


def _cmd_add(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from cme.secrets import sender_keys_path

    settings = load_settings()
    public_key = args.public_key
    if args.generate:
        if public_key:
            print("error: give --public-key or --generate, not both", file=sys.stderr)
            return 2
        key = X25519PrivateKey.generate()
        public_key = base64.b64encode(key.public_key().public_bytes_raw()).decode()
        private = base64.b64encode(key.private_bytes_raw()).decode()
        path = sender_keys_path(settings)
    elif not public_key:
        print(
            "error: give the sender's --public-key (base64 X25519), or --generate one here",
            file=sys.stderr,
        )
        return 2
    command = c.RegisterSender.of(
        {"actor": args.actor, "sender": args.sender, "public_key": public_key}
    )
    try:
        check_sender_public_key(command.public_key)
    except PayloadSealingError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    if args.generate:
        # The private half is kept first: a registered key nobody holds could not be used.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as keys:
            keys.write(f"{args.sender} {private}\n")
        print(f"private key of {args.sender} appended to {path} (give it to that sender only)")
    app = build_application(settings)
    try:
        app.register_sender(command)
    finally:
        app.close()
    print(f"registered {args.sender}: public key {public_key}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    app = build_application(load_settings())
    try:
        registry = app.sender_registry()
    finally:
        app.close()
    rows: list[dict[str, str]] = []
    if registry is not None:
        for sender, keys in sorted(registry.keys.items()):
            rows += [{"sender": sender, "public_key": key, "state": "active"} for key in keys]
        for sender, reason in sorted(registry.revoked.items()):
            rows.append({"sender": sender, "public_key": "", "state": f"revoked: {reason}"})
    render([Listing("registered senders", ["sender", "public_key", "state"], rows)], args.format)
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    command = c.RevokeSender.of({"actor": args.actor, "sender": args.sender, "reason": args.reason})
    app = build_application(load_settings())
    try:
        app.revoke_sender(command)
    finally:
        app.close()
    print(f"revoked {args.sender}: its new messages are quarantined (sender_not_authenticated)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    senders = sub.add_parser("senders", help="who may send upstream messages, and their keys")
    s_sub = senders.add_subparsers(dest="senders_command", metavar="ACTION", required=True)
    add = s_sub.add_parser("add", help="register a sender's X25519 public key")
    add.add_argument("sender", type=a_sender, help="the envelope's sender, e.g. school-mis:117001")
    add.add_argument("--public-key", help="base64 of the raw 32-byte X25519 public key")
    add.add_argument(
        "--generate",
        action="store_true",
        help="make the key pair here and append the private key to CME_SENDER_KEYS_FILE",
    )
    add.add_argument("--actor", required=True, type=an_actor, help="who registers it (recorded)")
    add.set_defaults(handler=_cmd_add)
    listing = s_sub.add_parser("list", help="registered and revoked senders")
    add_format_option(listing)
    listing.set_defaults(handler=_cmd_list)
    revoke = s_sub.add_parser("revoke", help="refuse a sender's messages from now on")
    revoke.add_argument("sender", type=a_sender)
    revoke.add_argument("--reason", required=True, help="why (kept in the event store)")
    revoke.add_argument("--actor", required=True, type=an_actor, help="who revokes it (recorded)")
    revoke.set_defaults(handler=_cmd_revoke)
