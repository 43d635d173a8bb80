"""Request-scoped dependencies: the app state, a database session, the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from skyroute.serve.auth import require_admin, tenant_of
from skyroute.serve.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.skyroute
    return state


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with state.sessions() as session:
        yield session


def get_tenant(request: Request, session: Annotated[Session, Depends(get_session)]) -> str:
    return tenant_of(request, session)


def admin_only(request: Request, state: Annotated[AppState, Depends(get_state)]) -> None:
    require_admin(request, state.settings.admin_token)


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]
TenantDep = Annotated[str, Depends(get_tenant)]
