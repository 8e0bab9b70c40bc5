"""`cme serve`: the HTTP API for caseworker and DPO tools (uvicorn)."""

from __future__ import annotations

import argparse

from cme.cli.arguments import a_port
from cme.settings import Mode, load_settings


def _cmd_serve(args: argparse.Namespace) -> int:
    from cme.api.app import create_app
    from cme.api.serving import bind, server

    settings = load_settings()
    listener = bind(args.host, args.port)
    api = create_app(settings)
    if settings.effective_mode is Mode.EMBEDDED:
        where = f"the embedded store in {settings.data_dir}"
    else:
        where = "PostgreSQL and Kafka (services mode)"
    sign_in = settings.oidc_issuer or "the DEVELOPMENT token issuer (`cme tokens issue`)"
    print(f"serving the API on http://{args.host}:{args.port}/v1 (OpenAPI at /openapi.json)")
    print(f"  over {where}; tokens from {sign_in}", flush=True)
    server(api, listener)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="the HTTP API for caseworker and DPO tools")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=a_port, default=8080)
    serve.set_defaults(handler=_cmd_serve)
