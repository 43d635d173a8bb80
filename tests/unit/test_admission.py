"""Admission control: requests beyond the in-flight bounds are refused at once, never queued."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.types import Message, Receive, Scope, Send

from skyroute.serve.admission import Admission, install_pool_timeout


class Held:
    """An app whose requests stay in flight until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.started += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def scope(path: str = "/api/v1/ml/decide", key: bytes = b"Bearer a", **extra: Any) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"authorization", key), (b"content-length", b"2")],
        **extra,
    }


async def call(app: Admission, request: Scope) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(request, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


def test_beyond_the_process_bound_is_503_with_retry_after_and_nothing_queues() -> None:
    async def run() -> None:
        held = Held()
        refused: list[str] = []
        app = Admission(held, max_in_flight=3, max_per_tenant=3, on_refuse=refused.append)
        keys = [b"Bearer a", b"Bearer b", b"Bearer c"]
        inside = [asyncio.create_task(call(app, scope(key=k))) for k in keys]
        await asyncio.sleep(0)
        assert held.started == 3 and app.in_flight == 3
        status, headers, body = await call(app, scope(key=b"Bearer d"))
        assert status == 503 and headers[b"retry-after"] == b"1"
        assert json.loads(body)["error"]["code"] == "overloaded"
        assert held.started == 3  # the refused request never reached the app
        # Probes still answer while the process is full.
        probe = asyncio.create_task(call(app, scope(path="/healthz")))
        await asyncio.sleep(0)
        assert held.started == 4
        held.release.set()
        assert [r[0] for r in await asyncio.gather(*inside, probe)] == [200] * 4
        assert app.in_flight == 0 and app.per_tenant == {}
        assert refused == ["overloaded"]
        assert (await call(app, scope(key=b"Bearer d")))[0] == 200

    asyncio.run(run())


def test_one_tenant_beyond_its_bound_is_429_while_others_get_in() -> None:
    async def run() -> None:
        held = Held()
        app = Admission(held, max_in_flight=10, max_per_tenant=2)
        mine = [
            asyncio.create_task(call(app, scope(**{"skyroute.tenant_id": "t1"}))) for _ in range(2)
        ]
        await asyncio.sleep(0)
        status, headers, body = await call(app, scope(**{"skyroute.tenant_id": "t1"}))
        assert status == 429 and headers[b"retry-after"] == b"1"
        assert json.loads(body)["error"]["code"] == "rate_limited"
        other = asyncio.create_task(call(app, scope(**{"skyroute.tenant_id": "t2"})))
        await asyncio.sleep(0)
        assert held.started == 3
        held.release.set()
        assert [r[0] for r in await asyncio.gather(*mine, other)] == [200, 200, 200]

    asyncio.run(run())


def test_a_refused_request_with_a_large_body_closes_its_connection() -> None:
    async def run() -> None:
        app = Admission(Held(), max_in_flight=0, max_per_tenant=1)
        big = scope()
        big["headers"] = [(b"content-length", str(10 << 20).encode())]
        status, headers, _ = await call(app, big)
        assert status == 503 and headers[b"connection"] == b"close"
        status, headers, _ = await call(app, scope())
        assert status == 503 and b"connection" not in headers

    asyncio.run(run())


def test_an_app_that_fails_releases_its_place() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    async def run() -> None:
        app = Admission(broken, max_in_flight=1, max_per_tenant=1)
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await call(app, scope())
        assert app.in_flight == 0 and app.per_tenant == {}

    asyncio.run(run())


def test_waiting_too_long_for_a_database_connection_is_a_503_not_a_500() -> None:
    app = FastAPI()
    install_pool_timeout(app, retry_after_s=2)

    @app.get("/busy")
    def busy() -> None:
        raise PoolTimeoutError("QueuePool limit of size 68 overflow 0 reached")

    response = TestClient(app).get("/busy")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["code"] == "overloaded"
