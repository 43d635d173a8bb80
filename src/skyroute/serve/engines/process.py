"""One sandboxed worker process as the server sees it: start, one framed exchange, kill.

Why a module of its own: the sandbox (``sandbox.py``) decides which worker serves a call; this
module guarantees that what comes back is the reply to *this* request or an error. The
protocol runs on two private pipes (the worker's stdin and stdout are ``/dev/null``); every
request carries a fresh random ``seq`` that the reply must echo, and bytes waiting on the pipe
before a request or after a reply mean the engine wrote frames of its own: the worker is then
unusable (``ProtocolError``) and must be killed. The worker's chroot folder is created here and
removed as soon as the worker has entered it, so no folder outlives a start, even a SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

START_TIMEOUT_S = 20.0
JAIL_PREFIX = "skyroute-engine-"


@dataclass(frozen=True)
class Limits:
    """What one engine worker may use; the wall clocks are enforced by the server."""

    cpu_seconds: float = 2.0  # CPU per call, renewed before each call
    memory_mb: int = 256  # address space of the whole worker
    wall_seconds: float = 1.0  # one call
    import_seconds: float = 5.0  # importing (loading) the engine module
    batch_seconds: float = 10.0  # cap on a batch's wall clock, however many requests
    max_output_bytes: int = 65536  # one answer

    def wall_for(self, n: int) -> float:
        """Wall clock for a batch of ``n``: one call's per request, up to ``batch_seconds``."""
        return min(self.wall_seconds * max(n, 1), max(self.wall_seconds, self.batch_seconds))

    def cpu_for(self, n: int) -> float:
        return min(self.cpu_seconds * max(n, 1), max(self.cpu_seconds, self.batch_seconds))

    def reply_bytes(self, n: int) -> int:
        return self.max_output_bytes * max(n, 1) + 4096 + 64 * n


class StartError(Exception):
    """No worker could be started: the machine's fault, not the engine's."""


class WorkerDied(Exception):
    """The worker process ended (crash, limit, kill) while we needed it."""


class ProtocolError(WorkerDied):
    """The worker sent something that is not the reply to the current request."""


class NotJSON(ValueError):
    """The request itself cannot be encoded (nothing was sent; the worker is fine)."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _wait(fd: int, events: int, seconds: float) -> int:
    """The events of ``fd`` within ``seconds`` (0: none); poll, not select: fds may be > 1024."""
    poller = select.poll()
    poller.register(fd, events)
    ready = poller.poll(max(0, math.ceil(seconds * 1000)))
    return ready[0][1] if ready else 0


class WorkerProcess:
    """A started, isolated worker and its two pipes; used by one thread at a time."""

    def __init__(self, limits: Limits, start_timeout: float = START_TIMEOUT_S) -> None:
        self.limits = limits
        self._lock = threading.Lock()  # reaping and signalling never race (pid reuse)
        self._dead = False
        self.jail: str | None = None
        try:
            self.jail = tempfile.mkdtemp(prefix=JAIL_PREFIX)
            os.chmod(self.jail, 0o555)
            request_r, self._request_w = os.pipe()
            self._reply_r, reply_w = os.pipe()
        except OSError as exc:
            self._remove_jail()
            raise StartError(f"cannot prepare an engine worker: {exc}") from None
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "skyroute.serve.engines.worker",
                    json.dumps(asdict(limits)), self.jail, str(request_r), str(reply_w),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(request_r, reply_w),
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
            )  # fmt: skip
        except OSError as exc:
            for fd in (self._request_w, self._reply_r):
                os.close(fd)
            self._remove_jail()
            raise StartError(f"cannot start an engine worker: {exc}") from None
        finally:
            os.close(request_r)
            os.close(reply_w)
        os.set_blocking(self._request_w, False)
        self.pid = self.process.pid
        try:
            ready = self._receive(0, time.monotonic() + start_timeout, 1 << 16)
        except (TimeoutError, WorkerDied) as exc:
            self.kill()
            raise StartError(f"the engine worker did not start: {exc or 'no answer'}") from None
        self._remove_jail()  # it is the worker's root now; the folder is no longer needed
        self.isolation: dict[str, Any] = dict(ready.get("isolation", {}))

    # -- one exchange ---------------------------------------------------------------------

    def request(self, message: dict[str, Any], timeout: float, max_bytes: int) -> dict[str, Any]:
        """Send ``message``, return its reply; TimeoutError, WorkerDied or ProtocolError else.

        A message that cannot be encoded raises ValueError/TypeError before anything is sent.
        """
        seq = secrets.randbits(62) + 1
        try:
            data = json.dumps(message | {"seq": seq}, allow_nan=False).encode()
        except (ValueError, TypeError) as exc:
            raise NotJSON(str(exc)) from None
        deadline = time.monotonic() + timeout
        if self._pending():
            raise ProtocolError("the worker wrote bytes outside any reply")
        self._send(struct.pack(">I", len(data)) + data, deadline)
        reply = self._receive(seq, deadline, max_bytes)
        if self._pending():
            raise ProtocolError("the worker wrote bytes beyond its reply")
        return reply

    def _pending(self) -> bool:
        """Bytes wait on the reply pipe (an EOF only marks the worker dead)."""
        if not _wait(self._reply_r, select.POLLIN, 0.0):
            return False
        if os.read(self._reply_r, 1):
            return True
        self._dead = True
        return False

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not _wait(self._request_w, select.POLLOUT, left):
                continue
            try:
                view = view[os.write(self._request_w, view) :]
            except BlockingIOError:
                continue
            except OSError:
                raise WorkerDied(self._death()) from None

    def _receive(self, seq: int, deadline: float, max_bytes: int) -> dict[str, Any]:
        (size,) = struct.unpack(">I", self._read_exactly(4, deadline))
        if size > max_bytes:
            raise ProtocolError(f"a reply of {size} bytes is above the limit")
        try:
            reply = json.loads(self._read_exactly(size, deadline), parse_constant=_no_constants)
        except ValueError:
            raise ProtocolError("the reply is not JSON") from None
        if not isinstance(reply, dict) or reply.get("seq") != seq:
            raise ProtocolError("a reply that does not answer this request")
        return reply

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        data = b""
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not _wait(self._reply_r, select.POLLIN, left):
                raise TimeoutError
            chunk = os.read(self._reply_r, n - len(data))
            if not chunk:
                raise WorkerDied(self._death())
            data += chunk
        return data

    # -- life and death -------------------------------------------------------------------

    def alive(self) -> bool:
        """Running and its reply pipe still open (an idle worker killed from outside is not).

        Bytes waiting on the pipe do not make it dead: the next ``request`` reports them.
        """
        with self._lock:
            if self._dead or self.process.poll() is not None:
                return False
        return not _wait(self._reply_r, select.POLLIN, 0.0) & select.POLLHUP

    def _death(self) -> str:
        self._dead = True
        with self._lock:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                return "worker stopped answering"
        if code < 0:
            name = signal.Signals(-code).name
            reason = {"SIGXCPU": "cpu limit", "SIGKILL": "killed", "SIGSEGV": "crashed"}
            return f"worker {reason.get(name, 'ended')} ({name})"
        return f"worker exited with code {code}"

    def terminate(self) -> None:
        """SIGKILL only (safe while another thread is in ``request``); ``kill`` cleans up."""
        with self._lock:
            if self.process.poll() is None:
                self.process.kill()

    def kill(self) -> None:
        """Kill, reap, close the pipes and remove the jail folder; idempotent."""
        self._dead = True
        with self._lock:
            if self.process.poll() is None:
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            for name in ("_request_w", "_reply_r"):
                fd = getattr(self, name, -1)
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                    setattr(self, name, -1)
        self._remove_jail()

    def _remove_jail(self) -> None:
        if self.jail is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.jail)
            self.jail = None
