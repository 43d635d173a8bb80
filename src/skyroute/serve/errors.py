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
from starlette.exceptions import HTTPException as StarletteHTTPException

from skyroute.errors import SkyRouteError

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
        message = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        return JSONResponse(
            body("invalid_request", message, "see the schema at /docs"), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code)

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
