"""A client that stops reading is dropped with 1013; the others and /decide go on (real server).

The test client of Starlette never pushes back on a send, so this runs under uvicorn, with a
raw socket whose tiny receive buffer fills after a few frames.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from apiclient import LiveServer, decide_body, http_tenant
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

LIVE = "/api/v1/ml/decisions/live"
#: Decisions per /decide/batch call (a tenth of the queue size in this test).
BATCH = 20


class RawFrames:
    """A WebSocket client that reads nothing until told to (then parses the server's frames)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _read(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("the server closed the connection without a close frame")
        self.buffer += chunk

    def _need(self, count: int) -> None:
        while len(self.buffer) < count:
            self._read()

    def close_frame(self) -> tuple[int, str]:
        """Read every frame up to the close frame: (code, reason)."""
        self.sock.settimeout(30)
        while True:
            self._need(2)
            opcode, length, header = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length >= 126:
                size = 2 if length == 126 else 8
                self._need(2 + size)
                length, header = int.from_bytes(self.buffer[2 : 2 + size], "big"), 2 + size
            self._need(header + length)
            payload = self.buffer[header : header + length]
            self.buffer = self.buffer[header + length :]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big"), payload[2:].decode()


def _subscribers(http: httpx.Client) -> int:
    return int(http.get("/readyz").json()["streams"]["subscribers"])


def _until(condition: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_slow_client_is_dropped_and_the_others_keep_receiving(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'skyroute.db'}",
        admin_token="admin-secret-for-tests",
        live_queue_size=10 * BATCH,
    )
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        key = http_tenant(server.url, "watched")
        received: list[str] = []
        closed: list[ConnectionClosed] = []
        stop = threading.Event()
        url = f"ws://127.0.0.1:{server.port}{LIVE}?api_key={key}"
        with connect(url, max_queue=None) as fast:

            def read() -> None:
                while not stop.is_set():
                    try:
                        received.append(json.loads(fast.recv(timeout=0.2))["id"])
                    except TimeoutError:
                        continue
                    except ConnectionClosed as exc:
                        closed.append(exc)
                        return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            slow = RawFrames(server.port, f"{LIVE}?api_key={key}")
            _until(lambda: _subscribers(http) == 2, "the slow client never subscribed")
            headers = {"Authorization": f"Bearer {key}"}
            body = {"requests": [decide_body() for _ in range(BATCH)]}
            posted = 0
            while _subscribers(http) == 2:
                assert posted < 1000, "the slow client was never dropped"
                answer = http.post("/api/v1/ml/decide/batch", json=body, headers=headers)
                assert answer.status_code == 200, answer.text
                posted += 1
                # The reading client keeps up (it shares this process's CPU with the server).
                sent = posted * BATCH
                _until(lambda n=sent: len(received) == n or bool(closed), "the reader stalled")
            last = http.post("/api/v1/ml/decide", json=decide_body(), headers=headers)
            assert last.status_code == 200, last.text
            _until(lambda: last.json()["decision_id"] in received, "the fast client stalled")
            stop.set()
            reader.join()
        assert closed == []
        assert len(received) == posted * BATCH + 1  # the fast client missed nothing
        code, reason = slow.close_frame()
        assert code == 1013
        assert "too slow" in reason
        metrics = http.get("/metrics").text
        assert "skyroute_live_subscribers_dropped_total 1.0" in metrics
