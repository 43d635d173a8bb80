"""Tenants and API keys: ``Authorization: Bearer <key>`` names the tenant of every request.

Keys are random (256 bits) and stored only as their SHA-256, so a database leak reveals no key.
The admin token comes from ``SKYROUTE_ADMIN_TOKEN`` and can only manage tenants.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from skyroute.serve.errors import ApiError
from skyroute.serve.tables import ApiKey, Tenant

KEY_PREFIX = "sk_"


def now() -> datetime:
    return datetime.now(UTC)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthenticated",
            "missing or malformed Authorization header",
            "send 'Authorization: Bearer <api key>'",
        )
    return token.strip()


def tenant_of(request: Request, session: Session) -> str:
    """The tenant id of the request's API key (401 if there is none or it is unknown)."""
    key = _bearer(request)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked:
        raise ApiError(401, "unauthenticated", "unknown or revoked API key", "ask your admin")
    return row.tenant_id


def require_admin(request: Request, admin_token: str | None) -> None:
    if admin_token is None:
        raise ApiError(
            403,
            "admin_disabled",
            "tenant management is disabled",
            "start the server with SKYROUTE_ADMIN_TOKEN set",
        )
    if not secrets.compare_digest(_bearer(request), admin_token):
        raise ApiError(403, "forbidden", "this endpoint needs the admin token")


def create_tenant(session: Session, name: str) -> tuple[str, str]:
    """A new tenant and its first key: (tenant_id, api_key). The key is not stored."""
    tenant_id = str(uuid.uuid4())
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(Tenant(id=tenant_id, name=name, created_at=now()))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ApiError(
            409, "conflict", f"a tenant named {name!r} exists", "pick another name"
        ) from None
    session.add(
        ApiKey(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            key_hash=hash_key(key),
            prefix=key[:10],
            created_at=now(),
            revoked=False,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(
            409, "conflict", f"a tenant named {name!r} exists", "pick another name"
        ) from None
    return tenant_id, key
