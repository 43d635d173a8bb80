"""Tenants and API keys: ``Authorization: Bearer <key>`` names the tenant of every request.

Keys are random (256 bits) and stored only as their SHA-256, so a database leak reveals no key.
The admin token comes from ``SKYROUTE_ADMIN_TOKEN`` and can only manage tenants.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from skyroute.serve.db import commit_or_conflict, conflict_on_duplicate
from skyroute.serve.errors import ApiError
from skyroute.serve.tables import ApiKey, Tenant

KEY_PREFIX = "sk_"


def now() -> datetime:
    return datetime.now(UTC)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


UNAUTHENTICATED_FIX = "send 'Authorization: Bearer <api key>'"


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (401 when there is none)."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthenticated", "missing or malformed Authorization header", UNAUTHENTICATED_FIX
        )
    return token.strip()


def unknown_key() -> ApiError:
    return ApiError(401, "unauthenticated", "unknown or revoked API key", "ask your admin")


def check_admin(header: str | None, admin_token: str | None) -> None:
    """Pass only the admin token (403 when it differs or tenant management is disabled)."""
    if admin_token is None:
        raise ApiError(
            403,
            "admin_disabled",
            "tenant management is disabled",
            "start the server with SKYROUTE_ADMIN_TOKEN set",
        )
    if not secrets.compare_digest(bearer_token(header).encode(), admin_token.encode()):
        raise ApiError(403, "forbidden", "this endpoint needs the admin token")


def create_tenant(session: Session, name: str) -> tuple[str, str]:
    """A new tenant and its first key: (tenant_id, api_key). The key is not stored."""
    tenant_id = str(uuid.uuid4())
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    taken = (f"a tenant named {name!r} exists", "pick another name")
    session.add(Tenant(id=tenant_id, name=name, created_at=now()))
    with conflict_on_duplicate(session, *taken):
        session.flush()  # the tenant row first: the key refers to it
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
    commit_or_conflict(session, *taken)
    return tenant_id, key
