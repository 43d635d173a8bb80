"""Admission control: a bounded number of requests in flight, per process and per tenant.

A server that queues everything it is offered collapses under overload: every request waits
behind all the others, times out, and the work done for it is wasted (at 2x capacity the old
server completed none of 1,500 decisions). Here a request beyond the bounds is refused at
once, before its body is read, with a pre-built answer and ``Retry-After``:

- more than ``max_in_flight`` requests in this process: 503 ``overloaded``;
- more than ``max_per_tenant`` of one tenant's requests: 429 ``rate_limited``, so one busy
  tenant cannot take all of the process from the others.

The accepted requests then wait behind at most ``max_in_flight`` others, which bounds their
latency. Health, readiness and metrics are never refused (probes must see an overloaded server
as alive). The tenant is the one the authentication gate put in the scope; without it, the
request's credentials stand in for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.types import ASGIApp, Receive, Scope, Send

from skyroute.serve.errors import body
from skyroute.serve.gate import TENANT_SCOPE_KEY

#: Paths answered whatever the load.
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
#: A refused request with a larger body gets its connection closed instead of drained.
LARGE_BODY = 64 << 10

OVERLOADED = body(
    "overloaded",
    "the server is at its limit of requests in flight",
    "retry after the number of seconds in the Retry-After header; add server workers",
)
RATE_LIMITED = body(
    "rate_limited",
    "this tenant has too many requests in flight",
    "wait for answers before sending more, or retry after Retry-After seconds",
)


def _encoded(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class Admission:
    """Pure ASGI middleware that refuses requests beyond the in-flight bounds (never queues).

    Args:
        app: the application behind it.
        max_in_flight: requests this process works on at once, at most.
        max_per_tenant: requests of one tenant in flight at once, at most.
        retry_after_s: the ``Retry-After`` sent with a refusal.
        on_refuse: called with "overloaded" or "rate_limited" for each refusal (metrics).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_per_tenant: int,
        retry_after_s: int = 1,
        on_refuse: Callable[[str], None] | None = None,
        exempt: Iterable[str] = EXEMPT,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_per_tenant = max_per_tenant
        self.on_refuse = on_refuse
        self.exempt = frozenset(exempt)
        self.in_flight = 0
        self.per_tenant: dict[object, int] = {}
        retry = str(retry_after_s).encode()
        self._refusals = {
            reason: (
                status,
                [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", retry),
                ],
                payload,
            )
            for reason, status, payload in (
                ("overloaded", 503, _encoded(OVERLOADED)),
                ("rate_limited", 429, _encoded(RATE_LIMITED)),
            )
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        tenant = _tenant(scope)
        held = self.per_tenant.get(tenant, 0)
        if self.in_flight >= self.max_in_flight:
            await self._refuse("overloaded", scope, send)
            return
        if held >= self.max_per_tenant:
            await self._refuse("rate_limited", scope, send)
            return
        self.in_flight += 1
        self.per_tenant[tenant] = held + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            left = self.per_tenant[tenant] - 1
            if left:
                self.per_tenant[tenant] = left
            else:
                del self.per_tenant[tenant]

    async def _refuse(self, reason: str, scope: Scope, send: Send) -> None:
        status, headers, payload = self._refusals[reason]
        if self.on_refuse is not None:
            self.on_refuse(reason)
        if _large_body(scope):  # close rather than drain a body nobody will read
            headers = [*headers, (b"connection", b"close")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _tenant(scope: Scope) -> object:
    tenant = scope.get(TENANT_SCOPE_KEY)
    if tenant is not None:
        return tenant
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return None


def _large_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (
            name == b"content-length" and (not value.isdigit() or int(value) > LARGE_BODY)
        ):
            return True
    return False


def install_pool_timeout(app: FastAPI, retry_after_s: int = 1) -> None:
    """Waiting too long for a database connection is an overload (503), not a server error."""

    @app.exception_handler(PoolTimeoutError)
    async def _pool_timeout(_: Request, __: PoolTimeoutError) -> JSONResponse:
        return JSONResponse(
            OVERLOADED, status_code=503, headers={"Retry-After": str(retry_after_s)}
        )
