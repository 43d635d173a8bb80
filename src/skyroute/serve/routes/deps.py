"""Request-scoped dependencies: the app state, a database session, the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from skyroute.serve.auth import bearer_token, check_admin, unknown_key
from skyroute.serve.gate import TENANT_SCOPE_KEY
from skyroute.serve.state import AppState


async def get_state(request: Request) -> AppState:
    """The app state (async: a sync dependency would cost a threadpool hop per request)."""
    state: AppState = request.app.state.skyroute
    return state


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with state.sessions() as session:
        yield session


def get_tenant(request: Request, state: Annotated[AppState, Depends(get_state)]) -> str:
    """The caller's tenant, as the auth gate found it before the body was read."""
    tenant = request.scope.get(TENANT_SCOPE_KEY)
    if tenant is None:  # a tenant route outside the gate's prefix: look the key up here
        tenant = state.keys.tenant_of(bearer_token(request.headers.get("authorization")))
        if tenant is None:
            raise unknown_key()
    return str(tenant)


async def get_tenant_fast(request: Request, state: Annotated[AppState, Depends(get_state)]) -> str:
    """:func:`get_tenant` without a threadpool hop when the gate found the tenant (async routes)."""
    tenant = request.scope.get(TENANT_SCOPE_KEY)
    if tenant is not None:
        return str(tenant)
    return await run_in_threadpool(get_tenant, request, state)


def admin_only(request: Request, state: Annotated[AppState, Depends(get_state)]) -> None:
    check_admin(request.headers.get("authorization"), state.settings.admin_token)


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]
TenantDep = Annotated[str, Depends(get_tenant)]
