"""Authentication before the body: a pure ASGI middleware in front of the routes.

FastAPI reads (and spools to disk) a request's body before any dependency runs, so a key
checked by a dependency comes too late: a caller without a key could make the server read a
gigabyte first. Here the ``Authorization`` header is checked as soon as the request line and
headers have arrived, before one byte of the body is received:

- ``/api/v1/ml/...`` needs a tenant's API key; its tenant id goes into the request scope
  (``TENANT_SCOPE_KEY``), where the ``get_tenant`` dependency finds it without a query;
- ``/api/v1/admin/...`` needs the admin token (the route dependency checks it again);
- everything else (health, metrics, docs) passes.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from skyroute.serve.auth import bearer_token, check_admin, hash_key, unknown_key
from skyroute.serve.errors import ApiError, send_error
from skyroute.serve.keys import TenantKeys

TENANT_SCOPE_KEY = "skyroute.tenant_id"
TENANT_PREFIX = "/api/v1/ml/"
ADMIN_PREFIX = "/api/v1/admin/"


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


def _announces_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class AuthGate:
    """Refuse a request without the right credentials before its body is read."""

    def __init__(self, app: ASGIApp, *, keys: TenantKeys, admin_token: str | None) -> None:
        self.app = app
        self.keys = keys
        self.admin_token = admin_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            try:
                if path.startswith(TENANT_PREFIX):
                    scope[TENANT_SCOPE_KEY] = await self._tenant(_authorization(scope))
                elif path.startswith(ADMIN_PREFIX):
                    check_admin(_authorization(scope), self.admin_token)
            except ApiError as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
                if _announces_body(scope):  # do not drain a body nobody will read
                    headers["Connection"] = "close"
                await send_error(scope, receive, send, exc, headers)
                return
        await self.app(scope, receive, send)

    async def _tenant(self, header: str | None) -> str:
        key_hash = hash_key(bearer_token(header))
        cached = self.keys.peek(key_hash)
        tenant = cached.tenant_id if cached else await run_in_threadpool(self.keys.load, key_hash)
        if tenant is None:
            raise unknown_key()
        return tenant
