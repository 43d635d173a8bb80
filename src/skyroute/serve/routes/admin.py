"""``/api/v1/admin``: tenant management with the admin token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from skyroute.serve.auth import create_tenant
from skyroute.serve.routes.deps import SessionDep, admin_only
from skyroute.serve.schemas import TenantIn, TenantOut

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(admin_only)])


@router.post("/tenants", response_model=TenantOut, status_code=201)
def new_tenant(body: TenantIn, session: SessionDep) -> TenantOut:
    """Create a tenant and its first API key (shown once; only its hash is stored)."""
    tenant_id, key = create_tenant(session, body.name)
    return TenantOut(tenant_id=tenant_id, api_key=key)
