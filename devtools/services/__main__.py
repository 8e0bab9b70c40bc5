"""Entry point of `scripts/services` and `cme services`."""

from __future__ import annotations

import argparse
import sys

from kafka.errors import KafkaError

from cme.idp_realm import IdentityProviderError
from cme.settings import ConfigurationError
from devtools.services import manager
from devtools.services.common import ServiceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/services",
        description="Start, stop and inspect the local PostgreSQL and Apache Kafka.",
    )
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    parser.add_argument(
        "--worker",
        help="with env: only what a process running this one worker needs (its roles' URLs)",
    )
    args = parser.parse_args(argv)
    try:
        plan = manager.plan()
        if args.action == "up":
            started = manager.up(plan)
            print("started: " + ", ".join(started) if started else "already running: nothing to do")
            _print_status(plan)
        elif args.action == "down":
            stopped = manager.down(plan)
            print("stopped: " + ", ".join(stopped) if stopped else "nothing of ours was running")
        elif args.action == "status":
            return _print_status(plan)
        elif args.worker:
            print("\n".join(manager.worker_env_lines(plan, args.worker)))
        else:
            print("\n".join(manager.env_lines(plan)))
    except (ServiceError, ConfigurationError, IdentityProviderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.action == "env":
            # Read by `eval "$(scripts/services env)" && cme run`: a failure must fail
            # the eval too, or the worker starts on the embedded store without a word.
            print("false")
        return 1
    except KafkaError as exc:
        where = f"read {plan.kafka.log} for 'Failed authentication'" if plan.kafka else "check it"
        print(
            f"error: the Kafka broker did not take the admin principal's requests "
            f"({type(exc).__name__}): it is not running, or refuses the admin's credentials; "
            f"{where}",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_status(plan: manager.Plan) -> int:
    rows = manager.statuses(plan)
    for row in rows:
        state = "running" if row.running else "stopped"
        owner = "started by scripts/services" if row.managed else row.detail
        pid = f"pid {row.pid}" if row.pid else ""
        log = f"log {row.log}" if row.log else ""
        print(f"{row.name:<11} {state:<8} {row.where:<48} {pid:<10} {owner}  {log}".rstrip())
    return 0 if all(r.running for r in rows) else 3


if __name__ == "__main__":
    sys.exit(main())
