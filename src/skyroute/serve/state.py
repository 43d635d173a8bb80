"""What one server process holds: settings, database, world model, engine sandbox, metrics."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from skyroute.serve.engines.registry import Engines
from skyroute.serve.keys import TenantKeys
from skyroute.serve.memo import Memo
from skyroute.serve.metrics import Metrics
from skyroute.serve.selections import SelectionCache
from skyroute.serve.settings import Settings
from skyroute.serve.tracing import NO_TRACING, Tracing
from skyroute.world.model import World

if TYPE_CHECKING:
    from skyroute.gapfill.worker import BackgroundWorker
    from skyroute.serve.drift_monitor import DriftMonitor
    from skyroute.serve.engines.sandbox import EngineSandbox
    from skyroute.serve.live.streams import LiveStreams
    from skyroute.serve.live_rounds import LiveScheduler
    from skyroute.serve.outbox import BackgroundSender
    from skyroute.serve.writer import GroupCommitWriter


_WORLD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _server_world() -> World:
    from skyroute.world.catalog.loader import load_catalog, region_ids
    from skyroute.world.model import build_world

    catalog = load_catalog()
    return build_world(catalog, origins=list(region_ids(catalog)))


def server_world() -> World:
    """The world model decisions are made in: core regions, every catalog region as a caller.

    Built once per process (about a second); the lock keeps two apps from building it twice.
    """
    with _WORLD_LOCK:
        return _server_world()


class WorldBuild:
    """The server world, built in a background thread so ``/healthz`` answers at once.

    ``/readyz`` says "not ready" until it is built; code that needs it waits for it.
    """

    def __init__(self, build: Callable[[], World] = server_world) -> None:
        self._done = threading.Event()
        self._world: World | None = None
        self._error: BaseException | None = None
        self._builder = build
        threading.Thread(target=self._build, name="skyroute-world", daemon=True).start()

    def _build(self) -> None:
        try:
            self._world = self._builder()
        except BaseException as exc:  # kept and re-raised to whoever needs the world
            self._error = exc
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self._error is None

    @property
    def error(self) -> BaseException | None:
        return self._error if self._done.is_set() else None

    def get(self) -> World:
        """The world, waiting for the build if it is still running."""
        self._done.wait()
        if self._world is None:
            raise self._error or RuntimeError("the world build ended without a world")
        return self._world


@dataclass
class AppState:
    settings: Settings
    db: Engine
    sessions: sessionmaker[Session]
    world_build: WorldBuild
    metrics: Metrics
    keys: TenantKeys
    predictors: dict[str, Any] = field(default_factory=dict)
    engines: Engines = field(default_factory=Engines)
    _sandbox: EngineSandbox | None = None
    gap_filler: BackgroundWorker | None = None
    outbox_sender: BackgroundSender | None = None
    live_scheduler: LiveScheduler | None = None
    writer: GroupCommitWriter | None = None
    live: LiveStreams | None = None
    #: Checks drift off the request path (``serve/drift_monitor.py``).
    drift: DriftMonitor | None = None
    selections: SelectionCache = field(default_factory=SelectionCache)
    #: Greedy answers per distinct request and hour (``serve/memo.py``).
    memo: Memo[Any] = field(default_factory=Memo)
    #: The process's spans (``serve/tracing.py``): no-ops unless an OTLP endpoint is set.
    tracing: Tracing = NO_TRACING
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def world(self) -> World:
        """The server world (waits for the start-up build the first time, about a second)."""
        return self.world_build.get()

    def sandbox(self) -> EngineSandbox:
        """The sandboxed engine workers (per tenant and engine; each started on first use)."""
        with self._lock:
            if self._sandbox is None:
                from skyroute.serve.engines.sandbox import Capacity, EngineSandbox, Limits

                settings = self.settings
                self._sandbox = EngineSandbox(
                    Limits(
                        wall_seconds=settings.engine_timeout_s,
                        import_seconds=settings.engine_import_timeout_s,
                    ),
                    Capacity(
                        max_workers=settings.engine_pool_size,
                        tenant_concurrency=settings.engine_tenant_concurrency,
                        tenant_queue=settings.engine_tenant_queue,
                    ),
                )
            return self._sandbox

    def start_gap_filler(self) -> None:
        """The in-process fill worker (GAP_FILLER_ENABLED); other workers may run beside it."""
        from skyroute.gapfill.worker import BackgroundWorker, Worker, default_sources

        worker = Worker(
            self.sessions,
            default_sources(self.settings.gap_filler_aws_region),
            lease_seconds=self.settings.gap_filler_lease_seconds,
            metrics=self.metrics,
        )
        self.gap_filler = BackgroundWorker(worker)
        self.gap_filler.start()

    def start_outbox_sender(self) -> None:
        """Forward stored events to CENTRAL_PLATFORM_URL (serve/outbox.py)."""
        from skyroute.serve.outbox import BackgroundSender, Sender, http_post

        sender = Sender(self.sessions, self.settings, self.metrics, http_post(self.settings))
        self.outbox_sender = BackgroundSender(sender, self.settings.central_poll_s)
        self.outbox_sender.start()

    def start_live_scheduler(self) -> None:
        """Predict the live series every LIVE_PREDICTION_INTERVAL_SECONDS (serve/live_rounds.py)."""
        from skyroute.serve.live_rounds import LiveScheduler

        self.live_scheduler = LiveScheduler(self, self.settings.live_prediction_interval_s)
        self.live_scheduler.start()

    def notify_drift(self, tenant_id: str) -> None:
        """The tenant stored decisions or actuals: its drift is checked soon (never waits)."""
        if self.drift is not None:
            self.drift.notify(tenant_id)

    def nudge_gap_filler(self) -> None:
        if self.gap_filler is not None:
            self.gap_filler.nudge()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()  # commits what is queued first
        if self.drift is not None:
            self.drift.close()
        if self.gap_filler is not None:
            self.gap_filler.close()
            self.gap_filler = None
        if self.outbox_sender is not None:
            self.outbox_sender.close()
            self.outbox_sender = None
        if self.live_scheduler is not None:
            self.live_scheduler.close()
            self.live_scheduler = None
        with self._lock:
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None
        self.db.dispose()
        self.tracing.shutdown()  # last: the spans of everything above are exported too
