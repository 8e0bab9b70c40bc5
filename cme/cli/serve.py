"""`cme serve`: the HTTP API for caseworker and DPO tools (uvicorn)."""

from __future__ import annotations

import argparse
import sys

from cme.cli.arguments import a_count, a_port
from cme.settings import Mode, load_settings


def _cmd_serve(args: argparse.Namespace) -> int:
    from cme.api.app import create_app
    from cme.api.serving import bind, serve_processes, server

    settings = load_settings()
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    embedded = settings.effective_mode is Mode.EMBEDDED
    if embedded and args.processes > 1:
        print(
            "error: --processes is for the services mode: the embedded store is one file "
            "caught up in the serving process",
            file=sys.stderr,
        )
        return 2
    listener = bind(host, port)
    api = create_app(settings)  # built here too, so a bad setting stops it before any process
    where = (
        f"the embedded store in {settings.data_dir}"
        if embedded
        else "PostgreSQL and Kafka (services mode)"
    )
    sign_in = settings.oidc_issuer or "the DEVELOPMENT token issuer (`cme tokens issue`)"
    print(f"serving the API on http://{host}:{port}/v1 (OpenAPI at /openapi.json)")
    print(f"  over {where}; tokens from {sign_in}", flush=True)
    if args.processes > 1:
        print(f"  from {args.processes} processes", flush=True)
        serve_processes(listener, args.processes)
    else:
        server(api, listener)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="the HTTP API for caseworker and DPO tools")
    serve.add_argument("--host", help="where to listen (default: CME_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=a_port, help="default: CME_API_PORT, 8080")
    serve.add_argument(
        "--processes",
        type=a_count,
        default=1,
        help="serving processes on the one port (services mode): each serves one use case "
        "at a time, so run about one per core",
    )
    serve.set_defaults(handler=_cmd_serve)
