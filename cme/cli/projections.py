"""`cme projections rebuild|parked|replay-parked`: the caseworker read models."""

from __future__ import annotations

import argparse
import sys

from cme.settings import load_settings


def _cmd_parked(args: argparse.Namespace) -> int:
    from cme.bootstrap import read_models

    store, close = read_models(load_settings())
    try:
        parked = store.parked()
    finally:
        close()
    for event in parked:
        print(
            f"{event.originator_id}\tv{event.version}\t{event.topic}\t{event.parked_at}\t"
            f"{event.reason}"
        )
    print(f"{len(parked)} parked event(s)", file=sys.stderr)
    return 0


def _cmd_replay_parked(args: argparse.Namespace) -> int:
    from cme.bootstrap import build_data_keys, read_models
    from consumers.projection_feed import replay_parked
    from crypto_shredding.mapper import cme_mapper

    settings = load_settings()
    store, close = read_models(settings)
    data_keys, close_keys = build_data_keys(settings)
    try:
        fed = replay_parked(cme_mapper(data_keys), store)
    finally:
        close()
        close_keys()
    print(f"applied {fed.applied} parked event(s); {fed.parked} still parked")
    return 0 if fed.parked == 0 else 1


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from cme.rebuild import rebuild

    rebuild(load_settings())
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    projections = sub.add_parser("projections", help="read-model administration")
    p_sub = projections.add_subparsers(dest="projections_command", metavar="ACTION", required=True)
    rebuild = p_sub.add_parser(
        "rebuild", help="rebuild the caseworker read models from the event store and swap them in"
    )
    rebuild.set_defaults(handler=_cmd_rebuild)
    p_sub.add_parser(
        "parked", help="events the projector set aside, and why (the other rows flow on)"
    ).set_defaults(handler=_cmd_parked)
    p_sub.add_parser(
        "replay-parked", help="apply the parked events again (after a fix), in version order"
    ).set_defaults(handler=_cmd_replay_parked)
