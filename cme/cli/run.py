"""`cme run [WORKER...]`: the main job; exits non-zero when a worker dies."""

from __future__ import annotations

import argparse
import sys

from cme.settings import load_settings


def _cmd_run(args: argparse.Namespace) -> int:
    import threading

    from cme import logs
    from cme.bootstrap import backend_for
    from cme.run_marker import marked_running
    from cme.runtime import WORKERS, run_embedded, start_workers
    from consumers.lifecycle import install_signal_handlers

    if len(set(args.workers)) < len(args.workers):
        print(
            "error: a worker is named twice; to run two of one worker, start two "
            "`cme run WORKER` processes (they share its consumer group)",
            file=sys.stderr,
        )
        return 2
    logs.configure()
    settings = load_settings()
    stop = threading.Event()
    install_signal_handlers(stop)
    workers = args.workers or list(WORKERS)
    with marked_running(settings.data_dir, workers):
        if not backend_for(settings).has_kafka:  # the embedded store: fed in-process
            return run_embedded(settings, stop, serve_api="api" in workers)
        running = start_workers(settings, workers, stop)
        died = running.join(stop)
    if died:
        print(f"cme run: {died}; restart it to resume where it stopped", file=sys.stderr)
        return 1
    return 0


def _a_worker(text: str) -> str:
    from cme.runtime import WORKERS

    if text not in WORKERS:
        msg = f"not a worker: the workers are {', '.join(WORKERS)}"
        raise argparse.ArgumentTypeError(msg)
    return text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the workers (the main job)")
    run.add_argument(
        "workers",
        nargs="*",
        type=_a_worker,
        default=[],
        help="intake, relay, projector, ledger, retention, api (default: all)",
    )
    run.set_defaults(handler=_cmd_run)
