"""Serving the API: the port is taken here first, so a busy port is one clear line.

Left to uvicorn, a busy port is a log line saying it is serving, then a
traceback and an exit; binding first lets ``cme serve`` and ``cme run api``
refuse to start, naming the setting to change.
"""

from __future__ import annotations

import socket
import threading

from fastapi import FastAPI

from cme.settings import ConfigurationError


def bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off only on
    # connections whose protocol says TCP, and with it on every answer waited
    # ~40 ms for a delayed ACK (found by `scripts/bench api`).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        msg = (
            f"cannot serve the API on {host}:{port} ({exc.strerror}): another program has "
            "that port; choose a free one with CME_API_PORT (cme run) or --port (cme serve)"
        )
        raise ConfigurationError(msg) from None
    return listener


def server(api: FastAPI, listener: socket.socket, stop: threading.Event | None = None) -> None:
    """Serve on ``listener`` until interrupted, or until ``stop`` is set."""
    import uvicorn  # noqa: PLC0415 - only the API needs it

    host, port = listener.getsockname()[:2]
    config = uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False)
    running = uvicorn.Server(config)
    if stop is not None:

        def stop_when_asked() -> None:
            stop.wait()
            running.should_exit = True

        threading.Thread(target=stop_when_asked, name="api-stop", daemon=True).start()
    running.run(sockets=[listener])


def serve_processes(listener: socket.socket, processes: int) -> None:
    """Serve on ``listener`` from ``processes`` processes, each with its own application.

    A process serves one use case at a time (the application's unit of work is
    not shared between threads), so more requests at once want more
    processes. uvicorn's own supervisor starts them on the one listener,
    starts another if one dies, and stops them all on SIGTERM or Ctrl-C;
    each builds the API from the environment, as ``cme serve`` does.
    """
    import uvicorn  # noqa: PLC0415 - only the API needs it
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    host, port = listener.getsockname()[:2]
    config = uvicorn.Config(
        "cme.api.app:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level="warning",
        access_log=False,
    )
    Multiprocess(config, sockets=[listener]).run()
