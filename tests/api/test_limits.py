"""Inputs bounded before they are read: credentials and size limits on the stream.

The streaming tests run the app under a real uvicorn server and send chunked bodies from a
generator (no Content-Length), counting what the client managed to send and what the server
spooled to disk meanwhile.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from apiclient import ADMIN_TOKEN, LiveServer, TenantClient, decide_body, make_tenant
from skyroute.serve.app import create_app
from skyroute.serve.keys import TenantKeys
from skyroute.serve.settings import Settings
from skyroute.serve.tables import ApiKey

CHUNK = 64 << 10
#: What a refused client may still push into socket buffers before it notices: far below
#: the gigabyte it offers.
SENT_BOUND = 32 << 20
BOUNDARY = "skyroute-test-boundary"


class Offer:
    """A chunked body of ``total`` bytes that records how much was taken and spooled."""

    def __init__(self, total: int, head: bytes = b"", spool: Path | None = None) -> None:
        self.total, self.head, self.spool = total, head, spool
        self.sent = 0
        self.max_spooled = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        chunk = b"\0" * CHUNK
        while self.sent < self.total:
            if self.spool is not None:
                self.max_spooled = max(self.max_spooled, spooled_bytes(self.spool))
            self.sent += len(chunk)
            yield chunk


def spooled_bytes(folder: Path) -> int:
    """Bytes in this process's open files under ``folder`` (unlinked spool files included)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
                total += os.fstat(int(fd)).st_size
        except OSError:
            continue
    return total


def multipart_head() -> bytes:
    fields = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in (("name", "big"), ("version", "1"))
    )
    return (
        fields + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.zip"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()


def post_stream(
    http: httpx.Client, path: str, offer: Offer, headers: dict[str, str]
) -> httpx.Response | None:
    """The server's answer, or None when it closed before the client could read it."""
    try:
        return http.post(path, content=iter(offer), headers=headers)
    except httpx.TransportError:
        return None


def assert_refused(response: httpx.Response | None, status: int, code: str) -> None:
    if response is not None:  # else: the connection was closed on us, just as good
        assert response.status_code == status, response.text[:300]
        assert response.json()["error"]["code"] == code


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Multipart parsing spools files here (Starlette's SpooledTemporaryFile)."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def small(settings: Settings) -> Settings:
    return Settings(**{**settings.__dict__, "max_upload_mb": 2, "max_request_kb": 64})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_chunked_upload_without_key_is_refused_before_its_body_is_read(
    small: Settings, spool: Path
) -> None:
    offer = Offer(1 << 30, multipart_head(), spool)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with LiveServer(create_app(small)) as server, httpx.Client(base_url=server.url) as http:
        response = post_stream(http, "/api/v1/ml/models/upload", offer, headers)
        assert_refused(response, 401, "unauthenticated")
    assert offer.sent < SENT_BOUND, offer.sent
    assert offer.max_spooled == 0
    assert not small.model_upload_dir.exists() or not any(small.model_upload_dir.iterdir())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_chunked_upload_past_the_limit_stops_at_the_limit(small: Settings, spool: Path) -> None:
    offer = Offer(256 << 20, multipart_head(), spool)
    with LiveServer(create_app(small)) as server, httpx.Client(base_url=server.url) as http:
        created = http.post(
            "/api/v1/admin/tenants",
            json={"name": "big"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ).json()
        headers = {
            "Authorization": f"Bearer {created['api_key']}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        response = post_stream(http, "/api/v1/ml/models/upload", offer, headers)
        assert_refused(response, 413, "too_large")
        listed = http.get("/api/v1/ml/models/list", headers=headers)
        assert listed.status_code == 200 and listed.json() == []
    assert offer.sent < SENT_BOUND, offer.sent
    assert offer.max_spooled <= (2 << 20) + CHUNK, offer.max_spooled
    assert spooled_bytes(spool) == 0  # the spool file is gone
    assert not small.model_upload_dir.exists() or not any(small.model_upload_dir.rglob("*"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_chunked_batch_is_refused_at_once_without_key_and_at_the_limit_with_one(
    small: Settings,
) -> None:
    one = json.dumps(decide_body()).encode()
    head = b'{"requests": [' + one
    with LiveServer(create_app(small)) as server, httpx.Client(base_url=server.url) as http:
        anonymous = Offer(1 << 30, head)
        response = post_stream(http, "/api/v1/ml/decide/batch", anonymous, {})
        assert_refused(response, 401, "unauthenticated")
        assert anonymous.sent < SENT_BOUND, anonymous.sent
        created = http.post(
            "/api/v1/admin/tenants",
            json={"name": "batch"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ).json()
        keyed = Offer(1 << 30, head)
        headers = {"Authorization": f"Bearer {created['api_key']}"}
        response = post_stream(http, "/api/v1/ml/decide/batch", keyed, headers)
        assert_refused(response, 413, "too_large")
        assert keyed.sent < SENT_BOUND, keyed.sent


def test_refusals_name_the_problem_and_how_to_fix_it(
    client: TestClient, tenant_a: TenantClient
) -> None:
    nobody: Any = client.post("/api/v1/ml/decide", json=decide_body())
    assert nobody.status_code == 401
    assert nobody.headers["www-authenticate"] == "Bearer"
    assert nobody.json()["error"]["fix"] == "send 'Authorization: Bearer <api key>'"
    wrong: Any = client.post(
        "/api/v1/ml/decide", json=decide_body(), headers={"Authorization": "Bearer sk_nope"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthenticated"
    not_admin: Any = client.post(
        "/api/v1/admin/tenants", json={"name": "x"}, headers=tenant_a.headers
    )
    assert not_admin.status_code == 403 and not_admin.json()["error"]["code"] == "forbidden"
    unicode_token: Any = client.post(
        "/api/v1/admin/tenants", json={"name": "x"}, headers={"Authorization": "Bearer é".encode()}
    )
    assert unicode_token.status_code == 403
    declared: Any = tenant_a.post(
        "/api/v1/ml/decide",
        content=b"{}",
        headers={"Content-Length": str(5 << 20), "Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == {
        "code": "too_large",
        "message": "request body above 1 MB",
        "fix": "send less, or raise SKYROUTE_MAX_REQUEST_KB",
    }
    assert client.get("/healthz").status_code == 200  # no key needed outside the API


@pytest.mark.parametrize(
    ("path", "params", "headers", "where"),
    [
        ("/api/v1/ml/spot/history", {"region": "us\x00east"}, {}, "query parameter 'region'"),
        ("/api/v1/ml/decide", {}, {"Idempotency-Key": "k\x00"}, "header 'idempotency-key'"),
        ("/api/v1/ml/models/a%00b", {}, {}, "the path"),
    ],
)
def test_nul_bytes_in_the_request_line_or_headers_are_422(
    tenant_a: TenantClient, path: str, params: dict[str, str], headers: dict[str, str], where: str
) -> None:
    response: Any = tenant_a.client.request(
        "POST" if path.endswith("decide") else "GET",
        path,
        params=params,
        json=decide_body() if path.endswith("decide") else None,
        headers={**tenant_a.headers, **headers},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == f"{where} contains a NUL byte"


def test_the_tenant_is_looked_up_once_per_cache_period(
    client: TestClient, tenant_a: TenantClient
) -> None:
    state = client.app.state.skyroute  # type: ignore[attr-defined]
    lookups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if ApiKey.__tablename__ in statement:
            lookups.append(statement)

    event.listen(state.db, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert tenant_a.get("/api/v1/ml/models/list").status_code == 200  # type: ignore[attr-defined]
    finally:
        event.remove(state.db, "before_cursor_execute", count)
    assert len(lookups) <= 1, lookups


def test_a_revoked_key_works_until_the_cache_period_ends(
    client: TestClient, tenant_a: TenantClient
) -> None:
    state = client.app.state.skyroute  # type: ignore[attr-defined]
    clock = [0.0]
    keys = TenantKeys(state.sessions, ttl=2.0, clock=lambda: clock[0])
    assert keys.tenant_of(tenant_a.key) == tenant_a.tenant_id
    with state.sessions() as session:
        session.query(ApiKey).filter_by(tenant_id=tenant_a.tenant_id).update({"revoked": True})
        session.commit()
    clock[0] = 1.9
    assert keys.tenant_of(tenant_a.key) == tenant_a.tenant_id
    clock[0] = 2.1
    assert keys.tenant_of(tenant_a.key) is None
    assert keys.tenant_of("sk_made_up") is None


def test_the_key_cache_is_bounded(client: TestClient) -> None:
    keys = TenantKeys(client.app.state.skyroute.sessions, max_entries=3)  # type: ignore[attr-defined]
    for i in range(10):
        keys.tenant_of(f"sk_{i}")
    assert len(keys._entries) == 3


def test_an_unknown_tenant_path_is_401_not_404(client: TestClient) -> None:
    assert client.get("/api/v1/ml/nothing-here").status_code == 401
    assert make_tenant(client, "gamma").get("/api/v1/ml/nothing-here").status_code == 404  # type: ignore[attr-defined]
