"""A sandboxed engine worker: ``python -m skyroute.serve.engines.worker LIMITS JAIL IN OUT``.

Before it reads any engine code the worker locks itself in: resource limits (address space,
open files, file size 0, no new processes or threads), new network, mount and IPC namespaces
(no interface but a down loopback: no connection leaves), a chroot into ``JAIL`` -- an empty
folder the server created and removes as soon as this worker is ready -- (no file of the
server is visible), no supplementary groups and a user and group of its own
(``UID_BASE + pid``: unique on the machine while it lives, so it can signal no other process),
``no_new_privs``, an empty environment. Only the standard-library modules in
``ALLOWED_MODULES`` are imported beforehand; after the chroot nothing else can be imported,
because no file can be read.

One worker serves one engine of one tenant: the first request (``load``) imports the engine,
every later one (``call``) runs ``decide`` over a batch of requests, each answered on its own.

Protocol on the two inherited pipe descriptors ``IN`` and ``OUT`` (stdin and stdout are
``/dev/null``, so a stray ``print`` or ``os.write(1, ...)`` goes nowhere): a 4-byte big-endian
length, then JSON. Every request carries a ``seq`` that the reply echoes; the server refuses a
reply with another ``seq`` and any byte beyond the reply, and then kills the worker.
"""

from __future__ import annotations

# The modules an engine may import (they are loaded before the chroot).
import bisect
import collections
import dataclasses
import datetime
import decimal
import fractions
import functools
import heapq
import itertools
import json
import math
import operator
import os
import random
import re
import statistics
import string
import struct
import sys
import traceback
import typing
from typing import Any

ALLOWED_MODULES = (
    "bisect", "collections", "dataclasses", "datetime", "decimal", "fractions", "functools",
    "heapq", "itertools", "json", "math", "operator", "random", "re", "statistics", "string",
    "typing",
)  # fmt: skip
_KEEP = (bisect, collections, dataclasses, datetime, decimal, fractions, functools, heapq)
_KEEP2 = (itertools, math, operator, random, re, statistics, string, typing)

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
# Each worker runs as UID_BASE + its pid (and the same gid): pids are unique among live
# processes, so no two workers -- of this server or another on the machine -- share a user.
UID_BASE = 1_000_000


def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _unshare(libc: Any, flags: int) -> bool:
    return bool(libc.unshare(flags) == 0)


def isolate(limits: dict[str, Any], jail: str, keep: tuple[int, ...]) -> dict[str, Any]:
    """Apply every isolation this machine supports; report what is in force."""
    import resource
    import signal

    libc = _libc()
    status: dict[str, Any] = {}
    status["netns"] = _unshare(libc, CLONE_NEWNET)
    status["mountns"] = _unshare(libc, CLONE_NEWNS)
    if status["mountns"]:
        libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    if not status["netns"] and os.geteuid() != 0:
        # Unprivileged: a user namespace makes the network and mount namespaces possible.
        status["netns"] = _unshare(libc, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS)
        status["mountns"] = status["netns"]
    status["ipcns"] = _unshare(libc, CLONE_NEWIPC)
    try:
        os.chroot(jail)
        os.chdir("/")
        status["chroot"] = True
    except OSError:
        status["chroot"] = False
    own = UID_BASE + os.getpid()
    try:
        os.setgroups([])
        os.setgid(own)
        os.setuid(own)
    except OSError:
        pass
    status["uid"] = os.getuid()
    status["own_uid"] = os.getuid() == own and os.getgid() == own
    status["no_new_privs"] = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    memory = int(limits["memory_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        status["nproc"] = True
    except (ValueError, OSError):
        status["nproc"] = False
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing us
    os.environ.clear()
    status["closed_fds"] = _close_other_fds(keep)
    return status


def _close_other_fds(keep: tuple[int, ...]) -> bool:
    """Close every descriptor above stderr but the protocol pipes."""
    low = 3
    try:
        for fd in sorted(keep):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
    except OSError:
        return False
    return True


def _read_exactly(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _read(fd: int) -> dict[str, Any] | None:
    header = _read_exactly(fd, 4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    message: dict[str, Any] = json.loads(_read_exactly(fd, size))
    return message


def _write(fd: int, data: bytes) -> None:
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]


def _cpu_budget(seconds: float) -> None:
    """Allow ``seconds`` more CPU from now (the limit is cumulative per process)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    now = used.ru_utime + used.ru_stime
    soft = int(now + seconds) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _load(source: str) -> tuple[dict[str, Any], str]:
    """Import the engine; (its namespace, the JSON of what it declares)."""
    namespace: dict[str, Any] = {"__name__": "engine", "__builtins__": __builtins__}
    exec(compile(source, "<engine>", "exec"), namespace)
    declared = {name: namespace.get(name) for name in ("NAME", "VERSION", "DESCRIPTION")}
    declared |= {name: namespace.get(name) for name in ("INPUT_SCHEMA", "OUTPUT_SCHEMA")}
    declared["has_decide"] = callable(namespace.get("decide"))
    return namespace, json.dumps(declared, allow_nan=False)


def _answer(decide: Any, request: Any, config: Any, max_bytes: int) -> str:
    """One request's result as JSON text; whatever the engine does wrong stays in it."""
    try:
        text = json.dumps(decide(request, config), allow_nan=False)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return json.dumps({"ok": False, "error": _describe(exc)})
    if len(text) > max_bytes:
        return json.dumps({"ok": False, "error": f"output above {max_bytes} bytes"})
    return '{"ok": true, "output": ' + text + "}"


def _reply(message: dict[str, Any], limits: dict[str, Any], engine: dict[str, Any]) -> str:
    """The JSON body of the reply to ``message`` (without its ``seq``)."""
    if message.get("op") == "load":
        if engine:
            return json.dumps({"ok": False, "error": "this worker already serves an engine"})
        _cpu_budget(float(limits["import_seconds"]))
        try:
            namespace, declared = _load(str(message["source"]))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            return json.dumps({"ok": False, "error": _describe(exc)})
        engine.update(namespace)
        return '{"ok": true, "output": ' + declared + "}"
    decide = engine.get("decide")
    if not callable(decide):
        return json.dumps({"ok": False, "error": "no engine is loaded"})
    _cpu_budget(float(message.get("cpu_seconds", limits["cpu_seconds"])))
    max_bytes = int(limits["max_output_bytes"])
    config = message.get("config", {})
    results = [_answer(decide, r, config, max_bytes) for r in message.get("requests", [])]
    return '{"ok": true, "results": [' + ", ".join(results) + "]}"


def _settle(in_fd: int, out_fd: int) -> tuple[int, int]:
    """Move the protocol pipes to descriptors 3 and 4, whatever numbers they arrived on."""
    import fcntl

    # Copies at 10 and above first, so moving them to 3 and 4 overwrites neither original.
    high_in = fcntl.fcntl(in_fd, fcntl.F_DUPFD, 10)
    high_out = fcntl.fcntl(out_fd, fcntl.F_DUPFD, 10)
    os.dup2(high_in, 3)
    os.dup2(high_out, 4)
    for fd in {in_fd, out_fd, high_in, high_out} - {3, 4}:
        os.close(fd)
    return 3, 4


def serve(limits: dict[str, Any], jail: str, in_fd: int, out_fd: int) -> None:
    in_fd, out_fd = _settle(in_fd, out_fd)
    status = isolate(limits, jail, keep=(in_fd, out_fd))
    _write(out_fd, json.dumps({"seq": 0, "ready": True, "isolation": status}).encode())
    engine: dict[str, Any] = {}
    while True:
        message = _read(in_fd)
        if message is None:
            return
        body = _reply(message, limits, engine)
        seq = int(message.get("seq", 0))
        _write(out_fd, ('{"seq": ' + str(seq) + ", " + body[1:]).encode())


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
