"""One error shape for the whole API: ``{"error": {"code", "message", "fix"}}``.

Domain errors (``SkyRouteError`` subclasses) map to HTTP statuses by their ``code``; request
validation, unknown routes and unexpected failures are turned into the same shape by the
handlers installed in :func:`install`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from skyroute.errors import SkyRouteError
from skyroute.fields import NO_NUL

log = logging.getLogger(__name__)


class ApiError(SkyRouteError):
    """An error with an explicit HTTP status (authentication, not found, conflicts, limits)."""

    def __init__(self, status: int, code: str, message: str, fix: str = "") -> None:
        super().__init__(message, fix)
        self.status = status
        self.code = code


STATUS_BY_CODE = {
    "unknown_name": 422,
    "config_invalid": 422,
    "trace_invalid": 422,
    "catalog_invalid": 500,
    "bundle_invalid": 422,
    "bundle_unsafe": 422,
    "engine_invalid": 422,
    "output_unwritable": 500,
    "source_unavailable": 422,
}


def body(code: str, message: str, fix: str = "") -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "fix": fix}}


async def send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    exc: ApiError,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer ``exc`` from ASGI middleware, in the same shape as the handlers below."""
    response = JSONResponse(
        body(exc.code, exc.message, exc.fix), status_code=exc.status, headers=headers
    )
    await response(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(SkyRouteError)
    async def _domain(_: Request, exc: SkyRouteError) -> JSONResponse:
        status = getattr(exc, "status", None) or STATUS_BY_CODE.get(exc.code, 400)
        content: dict[str, Any] = body(exc.code, exc.message, exc.fix)
        details = getattr(exc, "details", None)
        if details is not None:
            content["error"]["details"] = details
        return JSONResponse(content, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        what = str(first.get("msg"))
        ctx = first.get("ctx")
        if isinstance(ctx, dict) and ctx.get("pattern") == NO_NUL:
            what = "contains a NUL byte"
        message = f"{where}: {what}" if where else what
        return JSONResponse(
            body("invalid_request", message, "see the schema at /docs"), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "invalid_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status_code, "http_error")
        fix = str(getattr(exc, "fix", ""))
        return JSONResponse(body(code, str(exc.detail), fix), status_code=exc.status_code)

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # A value the request models should have refused but the database did (PostgreSQL:
        # NUL bytes, over-long text, out-of-range numbers): the caller's data, not a crash.
        log.warning("database refused a value: %s", exc.orig)
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return JSONResponse(
            body(
                "invalid_request", f"a value cannot be stored: {reason}", "see the schema at /docs"
            ),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            body(
                "internal_error",
                "the server failed to handle this request",
                "retry; report it if it persists",
            ),
            status_code=500,
        )
