"""An open-loop HTTP/1.1 load generator on raw asyncio streams (keep-alive, no pipelining).

Open loop means the arrival schedule does not wait for the server: request ``i`` is due at
``t0 + i / rate`` whatever happened before, and its latency is measured from that scheduled
time, so a server that stalls is charged for every request that queued behind the stall
(no coordinated omission). Requests are spread over a pool of keep-alive connections; when
every connection is busy the request waits in the generator's queue, and that wait counts.

httpx costs ~0.3 ms of client CPU per request, which caps one core near 3,000 requests/s; a
hand-written request line and a minimal response parser cost a tenth of that, so the
generator is not the bottleneck at the rates measured here (``/healthz`` capacity shows it).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

#: Seconds a request may take before it counts as a timeout (an error).
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Target:
    """Prepared requests, built once and sent as they are (request ``i`` sends ``raws[i % n]``)."""

    host: str
    port: int
    raws: tuple[bytes, ...]

    @property
    def raw(self) -> bytes:
        return self.raws[0]

    @classmethod
    def make(
        cls,
        host: str,
        port: int,
        method: str,
        path: str,
        body: bytes | list[bytes] = b"",
        headers: dict[str, str] | None = None,
    ) -> Target:
        bodies = body if isinstance(body, list) else [body]
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if method == "POST":
            lines.append("Content-Type: application/json")
        head = "\r\n".join(lines)
        raws = []
        for each in bodies:
            length = f"\r\nContent-Length: {len(each)}" if method == "POST" else ""
            raws.append(f"{head}{length}\r\n\r\n".encode() + each)
        return cls(host, port, tuple(raws))


@dataclass
class Result:
    """What one run saw: latencies (s) of completed requests by status, and failures."""

    seconds: float = 0.0
    offered: int = 0
    latencies: dict[int, list[float]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    retry_after: int = 0

    def record(self, status: int, latency: float) -> None:
        self.latencies.setdefault(status, []).append(latency)

    @property
    def statuses(self) -> Counter[int]:
        return Counter({status: len(values) for status, values in self.latencies.items()})

    @property
    def ok(self) -> list[float]:
        return sorted(x for s, v in self.latencies.items() if 200 <= s < 300 for x in v)

    def count(self, low: int, high: int) -> int:
        return sum(len(v) for s, v in self.latencies.items() if low <= s < high)

    @property
    def errors(self) -> int:
        """Anything that is neither a 2xx nor a deliberate refusal (429/503)."""
        refused = self.count(429, 430) + self.count(503, 504)
        return sum(self.failures.values()) + self.count(300, 600) - refused


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted ``values`` by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))
    return values[index]


class Connection:
    """One keep-alive HTTP/1.1 connection that sends a request and reads one response."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.target.host, self.target.port
            )
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        body = await self.reader.readexactly(length) if length else b""
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _send(conn: Connection, raw: bytes, due: float, result: Result) -> None:
    try:
        status, headers, _ = await asyncio.wait_for(conn.exchange(raw), TIMEOUT_S)
    except TimeoutError:
        conn.close()
        result.failures["timeout"] += 1
        return
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        conn.close()
        result.failures[type(exc).__name__] += 1
        return
    result.record(status, time.perf_counter() - due)
    if status in (429, 503) and b"retry-after" in headers:
        result.retry_after += 1


async def open_loop(target: Target, rate: float, seconds: float, connections: int = 64) -> Result:
    """Offer ``rate`` requests/s for ``seconds``; latency counts from each scheduled time."""
    result = Result(offered=int(rate * seconds))
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def worker() -> None:
        conn = Connection(target)
        while (job := await queue.get()) is not None:
            await _send(conn, job[1], job[0], result)
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter() + 0.01
    for i in range(result.offered):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, target.raws[i % len(target.raws)]))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - start
    return result


async def closed_loop(target: Target, seconds: float, connections: int) -> Result:
    """Each connection sends its next request as soon as the last one answered (capacity)."""
    result = Result()
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        conn = Connection(target)
        while time.perf_counter() < stop:
            raw = target.raws[result.offered % len(target.raws)]
            result.offered += 1
            await _send(conn, raw, time.perf_counter(), result)
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - start
    return result


async def probe_recovery(
    target: Target, normal_s: float, seconds: float = 5.0, every_s: float = 0.02, run: int = 10
) -> float:
    """Seconds until ``run`` probes in a row answer 2xx within ``normal_s`` (NaN if never)."""
    conn = Connection(target)
    start = time.perf_counter()
    streak_began: float | None = None
    streak = 0
    try:
        while (now := time.perf_counter()) - start < seconds:
            result = Result()
            await _send(conn, target.raw, now, result)
            ok = result.ok
            if ok and ok[0] <= normal_s:
                streak_began = now if streak == 0 else streak_began
                streak += 1
                if streak >= run and streak_began is not None:
                    return streak_began - start
            else:
                streak = 0
            await asyncio.sleep(max(0.0, now + every_s - time.perf_counter()))
    finally:
        conn.close()
    return float("nan")
