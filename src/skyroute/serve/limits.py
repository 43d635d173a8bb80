"""Bounds on what a request may carry, enforced on the stream (a pure ASGI middleware).

A ``Content-Length`` header is a promise the client may not send (chunked uploads have none),
so the body's bytes are counted as they arrive and the request is answered 413 ``too_large``
as soon as the count passes the limit: ``SKYROUTE_MAX_UPLOAD_MB`` for uploads,
``SKYROUTE_MAX_REQUEST_KB`` for every other body. Nothing past the limit is ever read, so
neither memory nor the spool files of multipart parsing grow beyond it.

The request line and headers are checked here too: a NUL byte in the path, a query parameter
or a header value is a 422 ``invalid_request`` naming where it was (PostgreSQL cannot store
one, and no legitimate caller sends one).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyroute.serve.errors import ApiError, send_error

NUL = "\x00"
CLOSE = (b"connection", b"close")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` past the limit; an HTTPException so FastAPI re-raises it."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, detail=f"request body above {_size(limit)}")
        self.limit = limit
        self.fix = f"send less, or raise {setting}"


def _size(limit: int) -> str:
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return f"{limit >> 20} MB"
    return f"{limit >> 10} KB" if limit % (1 << 10) == 0 else f"{limit} bytes"


def nul_in_request(scope: Scope) -> str | None:
    """Where a NUL byte is in the path, query string or headers (None when there is none)."""
    if NUL in scope["path"]:
        return "the path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                return f"query parameter {name.replace(NUL, '')!r}"
        return "the query string"
    headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
    for raw_name, raw_value in headers:
        if b"\x00" in raw_value or b"\x00" in raw_name:
            return f"header {raw_name.decode('latin-1').replace(NUL, '')!r}"
    return None


class BodyLimits:
    """Count body bytes per request, chunked or not, and stop at the limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_bytes: int,
        request_bytes: int,
        upload_paths: Iterable[str],
    ) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.request_bytes = request_bytes
        self.upload_paths = frozenset(upload_paths)

    def _refusal(self, path: str) -> BodyTooLarge:
        if path in self.upload_paths:
            return BodyTooLarge(self.upload_bytes, "SKYROUTE_MAX_UPLOAD_MB")
        return BodyTooLarge(self.request_bytes, "SKYROUTE_MAX_REQUEST_KB")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = nul_in_request(scope)
        if where is not None:
            error = ApiError(
                422, "invalid_request", f"{where} contains a NUL byte", "remove the NUL (\\x00)"
            )
            await send_error(scope, receive, send, error)
            return
        too_large = self._refusal(scope["path"])
        limit = too_large.limit
        length = _content_length(scope)
        if length is not None and (length < 0 or length > limit):
            await _send_too_large(scope, receive, send, too_large)
            return
        received = 0
        started = exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise too_large
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # whoever answers, the server must not drain the rest
                    message = {**message, "headers": [*message["headers"], CLOSE]}
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_too_large(scope, receive, send, too_large)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _send_too_large(scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
    error = ApiError(413, "too_large", str(exc.detail), exc.fix)
    await send_error(scope, receive, send, error, {"Connection": "close"})
