"""A sandboxed engine worker: ``python -m skyroute.serve.engines.worker LIMITS_JSON``.

Before it reads any engine code the worker locks itself in: resource limits (address space,
open files, file size 0, no new processes), a new network namespace (no interface but a down
loopback: no connection leaves), a new mount namespace and a chroot into an empty directory
(no file of the server is visible), no supplementary groups and the ``nobody`` user, an empty
environment. Only the standard-library modules in ``ALLOWED_MODULES`` are imported beforehand;
after the chroot nothing else can be imported, because no file can be read.

Protocol on stdin/stdout: 4-byte big-endian length + JSON, one request, one reply.
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
import tempfile
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
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18
NOBODY = 65534


def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _unshare(libc: Any, flags: int) -> bool:
    return bool(libc.unshare(flags) == 0)


def isolate(limits: dict[str, Any]) -> dict[str, Any]:
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
    jail = tempfile.mkdtemp(prefix="skyroute-engine-")
    try:
        os.chmod(jail, 0o555)
        os.chroot(jail)
        os.chdir("/")
        status["chroot"] = True
    except OSError:
        status["chroot"] = False
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        status["uid"] = os.getuid()
    except OSError:
        status["uid"] = os.getuid()
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
    status["closed_fds"] = _close_other_fds()
    return status


def _close_other_fds() -> bool:
    try:
        os.closerange(3, 1 << 16)
    except OSError:
        return False
    return True


def _read(stream: Any) -> dict[str, Any] | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    message: dict[str, Any] = json.loads(stream.read(size))
    return message


def _write(stream: Any, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _load(source: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name, "__builtins__": __builtins__}
    exec(compile(source, f"<engine {name}>", "exec"), namespace)
    return namespace


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


def serve(limits: dict[str, Any]) -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # an engine's print() must not corrupt the protocol
    status = isolate(limits)
    _write(stdout, {"ready": True, "isolation": status})
    engines: dict[str, dict[str, Any]] = {}
    while True:
        message = _read(stdin)
        if message is None:
            return
        try:
            key = message["sha"]
            if key not in engines:
                engines[key] = _load(message["source"], f"engine_{key[:8]}")
            module = engines[key]
            if message["op"] == "inspect":
                reply = {name: module.get(name) for name in ("NAME", "VERSION", "DESCRIPTION")}
                reply |= {name: module.get(name) for name in ("INPUT_SCHEMA", "OUTPUT_SCHEMA")}
                reply["has_decide"] = callable(module.get("decide"))
                _write(stdout, {"ok": True, "output": json.loads(json.dumps(reply))})
                continue
            _cpu_budget(float(limits["cpu_seconds"]))
            output = module["decide"](message["request"], message["config"])
            _write(stdout, {"ok": True, "output": json.loads(json.dumps(output))})
        except BaseException as exc:  # everything an engine does wrong becomes a reply
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            _write(stdout, {"ok": False, "error": detail[:500]})


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
