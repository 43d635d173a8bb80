"""The pool of warm, sandboxed worker processes that run engines for the server.

The server never imports an engine. A call goes to an idle worker over a pipe; the parent
enforces the wall clock (a late worker is killed and replaced), validates input and output
against the engine's declared JSON schemas, and turns anything that goes wrong into an
``EngineResult`` with ``ok=False`` and the reason -- the caller then falls back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from skyroute.serve.engines.contract import EngineError, EngineMeta, EngineResult, check_meta

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 2.0
    memory_mb: int = 256
    wall_seconds: float = 1.0
    max_output_bytes: int = 65536


class WorkerDied(Exception):
    """The worker process ended (crash, limit, kill) or broke the protocol."""


class Worker:
    """One sandboxed process and its pipes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skyroute.serve.engines.worker", json.dumps(asdict(limits))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
        )
        ready = self._receive(START_TIMEOUT_S)
        self.isolation: dict[str, Any] = ready.get("isolation", {})

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        header = self._read_exactly(4, deadline)
        (size,) = struct.unpack(">I", header)
        if size > self.limits.max_output_bytes + 4096:
            raise WorkerDied(f"reply of {size} bytes is above the limit")
        message: dict[str, Any] = json.loads(self._read_exactly(size, deadline))
        return message

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        chunks = b""
        while len(chunks) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
            import os

            chunk = os.read(fd, n - len(chunks))
            if not chunk:
                raise WorkerDied(self._death())
            chunks += chunk
        return chunks

    def _death(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "worker stopped answering"
        if code < 0:
            name = signal.Signals(-code).name
            reason = {"SIGXCPU": "cpu limit", "SIGKILL": "killed", "SIGSEGV": "crashed"}
            return f"worker {reason.get(name, 'ended')} ({name})"
        return f"worker exited with code {code}"

    def ask(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        data = json.dumps(message).encode()
        try:
            self.process.stdin.write(struct.pack(">I", len(data)) + data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._death()) from None
        return self._receive(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class EnginePool:
    """``size`` warm workers shared by the server's threads."""

    def __init__(self, size: int = 2, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.size = size
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._closed = False
        self._meta: dict[str, EngineMeta] = {}
        workers = [Worker(self.limits) for _ in range(size)]
        self.isolation = workers[0].isolation
        for worker in workers:
            self._idle.put(worker)

    # -- public API ----------------------------------------------------------------------

    def inspect(self, source: str) -> EngineMeta:
        """Import ``source`` in a worker and return what it declares (EngineError if broken)."""
        sha = hashlib.sha256(source.encode()).hexdigest()
        if sha in self._meta:
            return self._meta[sha]
        reply = self._exchange({"op": "inspect", "sha": sha, "source": source}, wall=5.0)
        if not reply["ok"]:
            raise EngineError(
                f"the engine module does not import: {reply['error']}",
                "run it locally with `python -c 'import your_engine'` and fix the error",
            )
        raw = reply["output"]
        missing = [k for k in ("NAME", "VERSION", "DESCRIPTION") if not raw.get(k)]
        if missing or not raw.get("has_decide"):
            names = missing + ([] if raw.get("has_decide") else ["decide"])
            raise EngineError(
                f"the engine module does not declare {', '.join(names)}",
                "declare NAME, VERSION, DESCRIPTION, INPUT_SCHEMA, OUTPUT_SCHEMA and "
                "def decide(request, config) (see docs/engines.md)",
            )
        meta = check_meta(raw)
        self._meta[sha] = meta
        return meta

    def call(self, source: str, request: dict[str, Any], config: dict[str, Any]) -> EngineResult:
        """Run the engine on one request; never raises for anything the engine does."""
        import jsonschema

        start = time.perf_counter()

        def result(ok: bool, output: Any = None, reason: str | None = None) -> EngineResult:
            return EngineResult(ok, output, reason, (time.perf_counter() - start) * 1000.0)

        try:
            meta = self.inspect(source)
        except EngineError as exc:
            return result(False, reason=f"engine invalid: {exc.message}")
        try:
            jsonschema.validate(request, meta.input_schema)
        except jsonschema.ValidationError as exc:
            return result(False, reason=f"input breaks schema: {exc.message[:200]}")
        sha = hashlib.sha256(source.encode()).hexdigest()
        message = {
            "op": "call",
            "sha": sha,
            "source": source,
            "request": request,
            "config": config,
        }
        try:
            reply = self._exchange(message, wall=self.limits.wall_seconds)
        except TimeoutError:
            return result(False, reason="timeout")
        except WorkerDied as exc:
            return result(False, reason=str(exc))
        if not reply.get("ok"):
            return result(False, reason=f"engine raised: {reply.get('error', '?')}")
        output = reply.get("output")
        if not isinstance(output, dict):
            return result(False, reason="output breaks schema: not an object")
        try:
            jsonschema.validate(output, meta.output_schema)
        except jsonschema.ValidationError as exc:
            return result(False, reason=f"output breaks schema: {exc.message[:200]}")
        return result(True, output=output)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    # -- internals -----------------------------------------------------------------------

    def _exchange(self, message: dict[str, Any], wall: float) -> dict[str, Any]:
        try:
            worker = self._idle.get(timeout=wall)
        except queue.Empty:
            raise TimeoutError from None
        try:
            reply = worker.ask(message, wall)
        except (TimeoutError, WorkerDied):
            worker.kill()
            self._replace()
            raise
        except Exception as exc:  # protocol garbage: treat the worker as dead
            worker.kill()
            self._replace()
            raise WorkerDied(f"bad reply ({type(exc).__name__})") from None
        self._idle.put(worker)
        return reply

    def _replace(self) -> None:
        """Start a fresh worker in the background so the pool stays warm."""

        def start() -> None:
            if self._closed:
                return
            try:
                worker = Worker(self.limits)
            except Exception:
                log.exception("could not start an engine worker")
                return
            if self._closed:
                worker.kill()
            else:
                self._idle.put(worker)

        threading.Thread(target=start, daemon=True).start()
