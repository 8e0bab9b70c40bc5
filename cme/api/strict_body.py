"""Request bodies counted as they arrive and read by intake's strict JSON reader.

Python's ``json`` lets the last of two same-named members win silently and
accepts NaN, NUL characters and numbers of any length; intake refuses each of
them, and a record must not be acceptable through one door and not the other.
A chunked body has no Content-Length to check up front, so the limit is
counted on the stream. FastAPI's documented way to change how a body is read
is a custom route class. (FastAPI's own ``max_body_size`` answers a too-long
Content-Length in plain text, whatever the app says; every answer here is a
problem document.)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from consumers import strict_json


class BodyRefusedError(HTTPException):
    """The body is not acceptable JSON: where and which rule, never the text."""

    def __init__(self, refusal: strict_json.JsonRefusedError) -> None:
        super().__init__(422, refusal.message)
        self.field = refusal.field or "body"
        self.rule = refusal.rule


MAX_BODY_BYTES = 64 * 1024
"""Far above any command (the longest, a referral with notes, is under 10 KiB)."""


class BodyTooLargeError(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, f"bodies are at most {MAX_BODY_BYTES} bytes")


class NotJsonError(HTTPException):
    """A body that is not declared JSON: 415 naming the header to change.

    JSON sent as text/plain was 'Input should be a valid dictionary': true,
    but not what the caller had to change.
    """

    def __init__(self) -> None:
        super().__init__(415, "send the body as Content-Type: application/json")


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class StrictJsonRequest(Request):
    async def stream(self) -> AsyncGenerator[bytes, None]:
        if int(self.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            raise BodyTooLargeError
        total = 0
        async for chunk in super().stream():
            total += len(chunk)
            if total > MAX_BODY_BYTES:
                raise BodyTooLargeError
            yield chunk

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            if not _is_json(self.headers.get("content-type", "")):
                raise NotJsonError  # a body sent with no Content-Type at all
            try:
                self._json = strict_json.loads(await self.body(), root="body")
            except strict_json.JsonRefusedError as refusal:
                raise BodyRefusedError(refusal) from None
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            given = request.headers.get("content-type")
            if self.body_field is not None and given is not None and not _is_json(given):
                raise NotJsonError
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
