"""Decisions reach the central platform through the outbox: retried, never lost, never blocking."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apiclient import decide_body, make_tenant
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings
from skyroute.serve.tables import OutboxEvent

API_KEY = "central-secret-key"


class Receiver:
    """A local central platform that fails its first ``failures`` requests with a 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.events: dict[str, dict[str, Any]] = {}
        self.keys: set[str | None] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.attempts += 1
                outer.keys.add(self.headers.get("Authorization"))
                if outer.attempts <= outer.failures:
                    self.send_response(503)
                    self.end_headers()
                    return
                for event in body["events"]:
                    outer.events[event["event_id"]] = event
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(failures=2)
    yield found
    found.close()


def _central(settings: Settings, url: str) -> Settings:
    return settings.model_copy(
        update={
            "central_platform_url": url,
            "central_platform_api_key": API_KEY,
            "central_retry_base_s": 0.05,
            "central_poll_s": 0.02,
        }
    )


def _decide(client: TestClient, n: int) -> list[str]:
    tenant = make_tenant(client, f"t{time.monotonic_ns()}")
    ids = []
    for k in range(n):
        answer = tenant.post("/api/v1/ml/decide", json=decide_body(id=f"fn{k}"))
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["decision_id"])
    return ids


def _wait(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_decisions_are_delivered_after_failed_attempts(
    settings: Settings, receiver: Receiver
) -> None:
    with TestClient(create_app(_central(settings, receiver.url))) as client:
        client.app.state.skyroute.world_build.get()
        ids = _decide(client, 5)
        _wait(lambda: set(ids) <= set(receiver.events))
    assert receiver.attempts > receiver.failures  # it failed first, then got them
    assert receiver.keys == {f"Bearer {API_KEY}"}
    first = receiver.events[ids[0]]
    assert first["kind"] == "decision" and first["decision"]["decision_id"] == ids[0]


def test_a_platform_that_is_down_never_blocks_and_nothing_is_lost_on_restart(
    settings: Settings,
) -> None:
    down = Receiver(failures=10**9)  # answers 503 to everything
    with TestClient(create_app(_central(settings, down.url))) as client:
        client.app.state.skyroute.world_build.get()
        ids = _decide(client, 3)  # each answered at once, whatever the platform does
        state = client.app.state.skyroute
        _wait(lambda: down.attempts >= 2)
        with state.sessions() as session:
            pending = session.query(OutboxEvent).filter(OutboxEvent.delivered_at.is_(None)).all()
            assert {e.event_id for e in pending} == set(ids)
            assert all(e.last_error for e in pending if e.attempts)
    down.close()
    up = Receiver(failures=0)
    try:
        with TestClient(create_app(_central(settings, up.url))) as client:  # a restart
            _wait(lambda: set(ids) <= set(up.events))
    finally:
        up.close()


def test_without_a_central_platform_no_event_is_stored(client: TestClient) -> None:
    _decide(client, 2)
    with client.app.state.skyroute.sessions() as session:
        assert session.query(OutboxEvent).count() == 0
