"""`cme serve`: the HTTP API for caseworker and DPO tools (uvicorn)."""

from __future__ import annotations

import argparse

from cme.settings import load_settings


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cme.api.app import create_app

    api = create_app(load_settings())
    print(f"serving the API on http://{args.host}:{args.port}/v1 (OpenAPI at /openapi.json)")
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="the HTTP API for caseworker and DPO tools")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(handler=_cmd_serve)
