"""Engines run for the server in sandboxed workers that are never shared between tenants.

Why this shape: an engine is a tenant's code. A shared interpreter let one tenant's engine read
and rewrite another's requests, configs, sources and answers; a shared user let it kill other
workers. So a worker belongs to one pool, keyed by (tenant, sha256 of the engine source), runs
as a user of its own (``worker.py``) and talks over framed, sequence-checked pipes
(``process.py``); each tenant has its own concurrency and queue bounds (``admission.py``), so a
hanging engine only ever delays its own tenant. Workers start lazily, ``Capacity.max_workers``
caps the live workers of this server, and the least recently used idle worker is evicted to
make room. Whatever an engine does -- hang, crash, die, write frames of its own, answer outside
its schema -- a call returns an ``EngineResult`` with ``ok=False`` and the reason, never an
exception: the caller falls back. A lost worker is replaced in the background.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from skyroute.errors import SkyRouteError
from skyroute.serve.engines.admission import TenantGates
from skyroute.serve.engines.contract import EngineError, EngineMeta, EngineResult
from skyroute.serve.engines.loaded import LoadedEngine, Outcome, breaks, judge, load
from skyroute.serve.engines.process import (
    START_TIMEOUT_S,
    Limits,
    NotJSON,
    ProtocolError,
    StartError,
    WorkerDied,
    WorkerProcess,
)

__all__ = ["Capacity", "EngineSandbox", "Limits", "SandboxUnavailable"]

log = logging.getLogger(__name__)

PROBE_RETRY_S = 5.0  # how long a failed start keeps /readyz at "cannot start" before a retry
ENGINE_CACHE = 512  # loaded engines' declarations kept (per tenant and source)


@dataclass(frozen=True)
class Capacity:
    """How many workers this server runs and how much of them one tenant may hold."""

    max_workers: int = 8  # live workers, all tenants and engines together
    tenant_concurrency: int = 2  # a tenant's calls in flight (and its live workers)
    tenant_queue: int = 4  # a tenant's calls waiting for a slot; more fall back "busy"


class SandboxUnavailable(SkyRouteError):
    """No worker can inspect an engine right now (the tenant's slots are busy or none starts)."""

    code = "engine_sandbox_unavailable"
    status = 503


class _Busy(Exception):
    """No worker for this call now; the message is the fallback reason."""


@dataclass
class _Pool:
    """The workers of one (tenant, engine source): idle ones wait here, ``live`` counts all."""

    key: tuple[str, str]
    source: str
    idle: list[WorkerProcess] = field(default_factory=list)
    live: int = 0
    replacing: bool = False


def _sha(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


class EngineSandbox:
    """Per-tenant, per-engine pools of sandboxed workers, with one small typed surface."""

    def __init__(self, limits: Limits | None = None, capacity: Capacity | None = None) -> None:
        self.limits = limits or Limits()
        self.capacity = capacity or Capacity()
        self.isolation: dict[str, Any] = {}
        self._gates = TenantGates(self.capacity.tenant_concurrency, self.capacity.tenant_queue)
        self._cond = threading.Condition()
        self._pools: OrderedDict[tuple[str, str], _Pool] = OrderedDict()
        self._tenant_live: dict[str, int] = {}
        self._engines: OrderedDict[tuple[str, str], LoadedEngine] = OrderedDict()
        self._workers: set[WorkerProcess] = set()
        self._replacers: list[threading.Thread] = []
        self._live = 0
        self._closed = False
        self._restarts = 0
        self._failed_starts = 0
        self._protocol_violations = 0
        self._start_ok: bool | None = None
        self._start_error: str | None = None
        self._last_attempt = 0.0

    # -- public API ----------------------------------------------------------------------

    def inspect(self, tenant_id: str, source: str) -> EngineMeta:
        """Import ``source`` in a one-shot worker of the tenant and return its declarations.

        EngineError (422) if it does not import within ``import_seconds`` or does not declare
        the contract; SandboxUnavailable (503) if no worker can take it now.
        """
        key = (tenant_id, _sha(source))
        with self._cond:
            known = self._engines.get(key)
        if known is not None:
            return known.meta
        refused = self._gates.enter(tenant_id, self.limits.import_seconds)
        if refused is not None:
            raise SandboxUnavailable(f"cannot inspect the engine now ({refused})", "retry shortly")
        try:
            return self._inspect_once(key, source).meta
        finally:
            self._gates.leave(tenant_id)

    def call(
        self, tenant_id: str, source: str, request: dict[str, Any], config: dict[str, Any]
    ) -> EngineResult:
        """Run the engine on one request; never raises for anything the engine does."""
        return self.call_batch(tenant_id, source, [request], config)[0]

    def call_batch(
        self,
        tenant_id: str,
        source: str,
        requests: Sequence[dict[str, Any]],
        config: dict[str, Any],
    ) -> list[EngineResult]:
        """Run the engine on every request in one exchange; each result stands on its own.

        The wall clock is ``Limits.wall_for(len(requests))``; ``elapsed_ms`` is the batch's.
        """
        start = time.perf_counter()
        if not requests:
            return []
        refused = self._gates.enter(tenant_id, self.limits.wall_for(len(requests)))
        if refused is not None:
            outcomes: list[Outcome] = [(False, None, refused)] * len(requests)
        else:
            try:
                outcomes = self._run(tenant_id, source, list(requests), config)
            finally:
                self._gates.leave(tenant_id)
        elapsed = (time.perf_counter() - start) * 1000.0
        return [EngineResult(ok, out, reason, elapsed) for ok, out, reason in outcomes]

    def health(self) -> dict[str, Any]:
        """Live workers, pools, restarts, failed starts and whether a worker can be started."""
        self._probe_if_due()
        in_flight, refused = self._gates.in_flight(), self._gates.refused
        with self._cond:
            idle = sum(len(pool.idle) for pool in self._pools.values())
            return {
                "can_start": bool(self._start_ok),
                "start_error": self._start_error,
                "live_workers": self._live,
                "idle_workers": idle,
                "pools": len(self._pools),
                "calls_in_flight": in_flight,
                "max_workers": self.capacity.max_workers,
                "tenant_concurrency": self.capacity.tenant_concurrency,
                "tenant_queue": self.capacity.tenant_queue,
                "restarts": self._restarts,
                "failed_starts": self._failed_starts,
                "protocol_violations": self._protocol_violations,
                "busy_refusals": refused,
                "isolation": dict(self.isolation),
            }

    def close(self) -> None:
        """Kill every worker; calls in flight end as fallbacks, later ones are refused."""
        self._gates.close()
        with self._cond:
            self._closed = True
            idle = [(pool, w) for pool in list(self._pools.values()) for w in pool.idle]
            for pool, _ in idle:
                pool.idle.clear()
                self._drop(pool)
            gone = {id(worker) for _, worker in idle}
            busy = [w for w in self._workers if id(w) not in gone]
            replacers = list(self._replacers)
        for _, worker in idle:
            self._kill(worker)
        for worker in busy:
            worker.terminate()
        for thread in replacers:  # a replacement being started is killed when it is ready
            thread.join(timeout=START_TIMEOUT_S + self.limits.import_seconds)

    # -- one call -------------------------------------------------------------------------

    def _run(
        self, tenant: str, source: str, requests: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[Outcome]:
        n = len(requests)
        try:
            pool, worker, engine = self._checkout(tenant, source)
        except _Busy as exc:
            return [(False, None, f"busy: {exc}")] * n
        except EngineError as exc:
            return [(False, None, f"engine invalid: {exc.message}")] * n
        except StartError as exc:
            return [(False, None, f"sandbox unavailable: {exc}")] * n
        outcomes: list[Outcome | None] = [None] * n
        send: list[int] = []
        for i, request in enumerate(requests):
            problem = breaks(engine.check_input, request)
            if problem is None:
                send.append(i)
            else:
                outcomes[i] = (False, None, f"input breaks schema: {problem}")
        healthy = True
        if send:
            healthy, items, failure = self._exchange(worker, [requests[i] for i in send], config)
            for i, item in zip(send, items, strict=True):
                outcomes[i] = (False, None, failure) if failure else judge(engine, item)
        self._checkin(pool, worker, healthy)
        return [o for o in outcomes if o is not None]

    def _exchange(
        self, worker: WorkerProcess, batch: list[dict[str, Any]], config: dict[str, Any]
    ) -> tuple[bool, list[Any], str | None]:
        """(worker still usable, one raw result per request, why all failed or None)."""
        n = len(batch)
        none: list[Any] = [None] * n
        message = {
            "op": "call",
            "requests": batch,
            "config": config,
            "cpu_seconds": self.limits.cpu_for(n),
        }
        try:
            reply = worker.request(message, self.limits.wall_for(n), self.limits.reply_bytes(n))
        except NotJSON:
            return True, none, "request or config is not JSON"
        except TimeoutError:
            return False, none, "timeout"
        except ProtocolError as exc:
            with self._cond:
                self._protocol_violations += 1
            return False, none, f"protocol broken: {exc}"
        except WorkerDied as exc:
            return False, none, str(exc)
        results = reply.get("results")
        if reply.get("ok") is not True or not isinstance(results, list) or len(results) != n:
            with self._cond:
                self._protocol_violations += 1
            return False, none, "protocol broken: not one result per request"
        return True, results, None

    # -- workers in and out of pools --------------------------------------------------------

    def _checkout(self, tenant: str, source: str) -> tuple[_Pool, WorkerProcess, LoadedEngine]:
        """An idle worker of this pool, or a new one (evicting an idle one at the caps)."""
        key = (tenant, _sha(source))
        doomed: list[WorkerProcess] = []
        try:
            with self._cond:
                if self._closed:
                    raise _Busy("the engine sandbox is closed")
                pool = self._pools.get(key)
                engine = self._engines.get(key)
                if pool is not None:
                    self._pools.move_to_end(key)
                    while pool.idle:
                        worker = pool.idle.pop()
                        if engine is not None and worker.alive():
                            return pool, worker, engine
                        doomed.append(worker)
                        self._drop(pool)
                        self._restarts += 1
                victim = self._reserve(tenant)
                if victim is not None:
                    doomed.append(victim)
                pool = self._pools.get(key)
                if pool is None:
                    pool = self._pools[key] = _Pool(key, source)
                pool.live += 1
        finally:
            for worker in doomed:
                self._kill(worker)
        try:
            worker, engine = self._start(key, source)
        except BaseException:
            with self._cond:
                self._drop(pool)
            raise
        return pool, worker, engine

    def _checkin(self, pool: _Pool, worker: WorkerProcess, healthy: bool) -> None:
        with self._cond:
            keep = healthy and not self._closed and worker.alive()
            lost = not keep and not self._closed
            if keep:
                pool.idle.append(worker)
            else:
                self._drop(pool)
                self._restarts += int(lost)
        if not keep:
            self._kill(worker)
        if lost:
            self._replace_later(pool.key, pool.source)

    def _reserve(self, tenant: str) -> WorkerProcess | None:
        """Count one more live worker for ``tenant``; the idle worker to kill for room, if any.

        Called with the lock held. A tenant at its own cap evicts one of its own idle workers;
        only at the server's cap is another tenant's least recently used idle worker evicted.
        """
        victim = None
        if self._tenant_live.get(tenant, 0) >= self.capacity.tenant_concurrency:
            victim = self._evict(tenant)
            if victim is None:
                raise _Busy("every engine worker of this tenant is busy")
        elif self._live >= self.capacity.max_workers:
            victim = self._evict(None)
            if victim is None:
                raise _Busy(f"all {self.capacity.max_workers} engine workers are busy")
        self._tenant_live[tenant] = self._tenant_live.get(tenant, 0) + 1
        self._live += 1
        return victim

    def _evict(self, tenant: str | None) -> WorkerProcess | None:
        for pool in self._pools.values():  # least recently used first
            if pool.idle and (tenant is None or pool.key[0] == tenant):
                worker = pool.idle.pop(0)
                self._drop(pool)
                return worker
        return None

    def _drop(self, pool: _Pool, counted: bool = True) -> None:
        """One live worker fewer in ``pool`` (lock held); an empty pool is forgotten.

        ``counted`` is False for a replacement that never became ready (it held no tenant slot).
        """
        pool.live -= 1
        if pool.live == 0 and not pool.idle and self._pools.get(pool.key) is pool:
            del self._pools[pool.key]
        if counted:
            self._unreserve(pool.key[0])
        else:
            self._live -= 1
            self._cond.notify_all()

    def _unreserve(self, tenant: str) -> None:
        """One live worker fewer for ``tenant`` (lock held)."""
        self._live -= 1
        left = self._tenant_live.get(tenant, 0) - 1
        if left > 0:
            self._tenant_live[tenant] = left
        else:
            self._tenant_live.pop(tenant, None)
        self._cond.notify_all()

    def _replace_later(self, key: tuple[str, str], source: str) -> None:
        """Start a replacement for a lost worker in the background, if there is room."""
        with self._cond:
            pool = self._pools.get(key)
            if self._closed or (pool is not None and pool.replacing):
                return
            full = self._tenant_live.get(key[0], 0) >= self.capacity.tenant_concurrency
            if full or self._live >= self.capacity.max_workers:
                return
            # Until it is ready a replacement holds none of the tenant's slots, so it can never
            # make one of the tenant's own calls fall back "busy".
            self._live += 1
            if pool is None:
                pool = self._pools[key] = _Pool(key, source)
            pool.live += 1
            pool.replacing = True
            thread = threading.Thread(target=self._replace, args=(pool,), daemon=True)
            self._replacers = [t for t in self._replacers if t.is_alive()] + [thread]
            thread.start()

    def _replace(self, pool: _Pool) -> None:
        worker: WorkerProcess | None = None
        try:
            worker, _ = self._start(pool.key, pool.source)
        except Exception as exc:  # counted by _start; the next call starts one lazily
            log.warning("could not replace an engine worker: %s", exc)
        with self._cond:
            pool.replacing = False
            tenant = pool.key[0]
            room = self._tenant_live.get(tenant, 0) < self.capacity.tenant_concurrency
            if worker is not None and not self._closed and room:
                self._tenant_live[tenant] = self._tenant_live.get(tenant, 0) + 1
                pool.idle.append(worker)
                self._cond.notify_all()
                return
            self._drop(pool, counted=False)
        if worker is not None:
            self._kill(worker)

    # -- starting, loading and killing ------------------------------------------------------

    def _inspect_once(self, key: tuple[str, str], source: str) -> LoadedEngine:
        with self._cond:
            try:
                victim = self._reserve(key[0])
            except _Busy as exc:
                message = f"cannot inspect the engine now ({exc})"
                raise SandboxUnavailable(message, "retry shortly") from None
        if victim is not None:
            self._kill(victim)
        try:
            worker, engine = self._start(key, source)
            self._kill(worker)
        except StartError as exc:
            raise SandboxUnavailable(str(exc), "see /readyz; the server may lack root") from None
        finally:
            with self._cond:
                self._unreserve(key[0])
        return engine

    def _start(self, key: tuple[str, str], source: str) -> tuple[WorkerProcess, LoadedEngine]:
        """A new worker with the engine loaded (StartError or EngineError, nothing left)."""
        worker = self._spawn()
        try:
            engine = load(worker, self.limits, source)
        except BaseException:
            self._kill(worker)
            raise
        with self._cond:
            self._engines[key] = engine
            self._engines.move_to_end(key)
            while len(self._engines) > ENGINE_CACHE:
                self._engines.popitem(last=False)
        return worker, engine

    def _spawn(self) -> WorkerProcess:
        with self._cond:
            self._last_attempt = time.monotonic()
        try:
            worker = WorkerProcess(self.limits)
        except StartError as exc:
            with self._cond:
                self._failed_starts += 1
                self._start_ok, self._start_error = False, str(exc)
            raise
        with self._cond:
            self._start_ok, self._start_error = True, None
            self.isolation = worker.isolation
            self._workers.add(worker)
        return worker

    def _kill(self, worker: WorkerProcess) -> None:
        worker.kill()
        with self._cond:
            self._workers.discard(worker)

    def _probe_if_due(self) -> None:
        """Start (and stop) a worker when no start was tried yet or the last one failed."""
        with self._cond:
            idle_since = time.monotonic() - self._last_attempt
            due = not self._closed and (
                self._start_ok is None or (not self._start_ok and idle_since >= PROBE_RETRY_S)
            )
        if due:
            with contextlib.suppress(StartError):
                self._kill(self._spawn())
