"""`scripts/bench [domain|...]`: run a benchmark, print a table, write JSON."""

from __future__ import annotations

import argparse
import sys

from cme.cli.arguments import a_count
from cme.settings import ConfigurationError
from devtools.services.common import ServiceError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    domain = sub.add_parser("domain", help="save+load through the library, sealed vs plain")
    domain.add_argument("--children", type=a_count, default=2000)
    domain.add_argument("--events-each", type=a_count, default=10)
    domain.add_argument("--seed", type=int, default=7)
    domain.add_argument("--rounds", type=a_count, default=5)
    intake = sub.add_parser("intake", help="sustained intake msg/s vs raw Kafka and PostgreSQL")
    intake.add_argument("--messages", type=a_count, default=20_000)
    intake.add_argument("--partitions", type=a_count, default=6)
    intake.add_argument("--seed", type=int, default=7)
    pipeline = sub.add_parser("pipeline", help="relay/projector events/s, end-to-end latency")
    pipeline.add_argument(
        "--backlog", type=a_count, default=5000, help="messages for the stage rates"
    )
    pipeline.add_argument("--rate", type=float, default=500.0, help="offered msg/s for latency")
    pipeline.add_argument("--seconds", type=float, default=20.0)
    pipeline.add_argument("--partitions", type=a_count, default=6)
    pipeline.add_argument("--seed", type=int, default=7)
    audit = sub.add_parser("audit", help="ledger verify and decrypting replay vs raw reads")
    audit.add_argument("--events", type=a_count, default=1_000_000)
    audit.add_argument("--rounds", type=a_count, default=2)
    audit.add_argument("--seed", type=int, default=7)
    shred = sub.add_parser("shred", help="SAR p50/p95 in a large store; shred every child")
    shred.add_argument("--events", type=a_count, default=1_000_000)
    shred.add_argument("--samples", type=a_count, default=200, help="access packages timed")
    shred.add_argument("--seed", type=int, default=7)
    sealing = sub.add_parser("sealing", help="HPKE Auth-mode open/seal vs base mode, per message")
    sealing.add_argument("--messages", type=a_count, default=5000)
    sealing.add_argument("--seed", type=int, default=7)
    api = sub.add_parser("api", help="API read and command p50/p95/p99 at 1/10/50 clients")
    api.add_argument("--children", type=a_count, default=300)
    api.add_argument("--seconds", type=float, default=5.0, help="each measurement")
    api.add_argument("--seed", type=int, default=7)
    api.add_argument(
        "--processes", type=a_count, default=1, help="`cme serve --processes`: serving processes"
    )
    recovery = sub.add_parser("recovery", help="intake back at work after a SIGKILL and restart")
    recovery.add_argument("--rounds", type=a_count, default=3)
    recovery.add_argument("--partitions", type=a_count, default=3)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.benchmark == "domain":
            from devtools.bench import domain as bench  # noqa: PLC0415

            bench.run(args.children, args.events_each, args.seed, args.rounds)
        elif args.benchmark == "intake":
            from devtools.bench import intake as intake_bench  # noqa: PLC0415

            intake_bench.run(args.messages, args.seed, args.partitions)
        elif args.benchmark == "sealing":
            from devtools.bench import sealing as sealing_bench  # noqa: PLC0415

            sealing_bench.run(args.messages, args.seed)
        elif args.benchmark == "pipeline":
            from devtools.bench import pipeline as pipeline_bench  # noqa: PLC0415

            pipeline_bench.run(args.backlog, args.rate, args.seconds, args.seed, args.partitions)
        elif args.benchmark == "audit":
            from devtools.bench import audit as audit_bench  # noqa: PLC0415

            audit_bench.run(args.events, args.seed, args.rounds)
        elif args.benchmark == "shred":
            from devtools.bench import shred as shred_bench  # noqa: PLC0415

            shred_bench.run(args.events, args.samples, args.seed)
        elif args.benchmark == "api":
            from devtools.bench import api as api_bench  # noqa: PLC0415

            api_bench.run(args.children, args.seconds, args.seed, args.processes)
        elif args.benchmark == "recovery":
            from devtools.bench import recovery as recovery_bench  # noqa: PLC0415

            recovery_bench.run(args.rounds, args.partitions)
    except (ServiceError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
