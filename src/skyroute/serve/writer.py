"""Group commit: one writer thread per process stores the rows of concurrent requests together.

A request hands its rows (decisions, an idempotency key) to the writer and waits until the
transaction that holds them has committed, so nothing is answered before it is stored. While
one transaction commits, the next requests queue up and go into the following one: under load
one commit serves tens of requests instead of one each, and no request holds a pooled
connection while it waits (the old path held one per request and ran out of them).

On the event loop, the requests of one loop iteration are handed over together: one wake-up
of the writer thread and one wake-up of the loop per group instead of per request (a thread
hand-off costs about as much as a greedy decision). With ``inline`` (the server uses it for
SQLite, whose commit is a local file append) the group is committed on the loop itself: under
load a busy loop holds the GIL, and a writer thread that needs it back after every database
call would wait a switch interval (5 ms) each time, so commits, and with them every accepted
request, would crawl exactly when the server is busiest.

A transaction that fails (say, one request's idempotency key was stored by a concurrent retry)
is retried request by request, so only the request whose rows conflict sees the error.

Traced, each transaction is a ``storage.group_commit`` span of its own trace (it serves many
requests), linked to the span of every request it stored; the statements are its children.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.exc import DBAPIError

from skyroute.serve.tracing import NO_TRACING, Tracing

log = logging.getLogger(__name__)

#: One request's writes: rows per table, inserted in the order given.
Rows = Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
#: SQLite (inline mode): how often the writer thread checkpoints the write-ahead log.
CHECKPOINT_EVERY_S = 1.0
#: Per request of a group: None when stored, else the error that kept it from being stored.
Outcomes = list[BaseException | None]


def column_values(row: Any) -> dict[str, Any]:
    """An ORM object's column values, as the writer inserts them (columns left unset: NULL)."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


class WriterClosedError(RuntimeError):
    """The writer was closed (the server is shutting down); nothing was stored."""


@dataclass
class _Group:
    """Requests handed over together; ``done`` resolves with one outcome per request."""

    requests: list[Rows]
    done: concurrent.futures.Future[Outcomes] = field(default_factory=concurrent.futures.Future)
    #: The requests' spans (``Tracing.link``), for the transaction's span to link to.
    links: list[Any] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(values) for rows in self.requests for _, values in rows)


class GroupCommitWriter:
    """Commits the rows of concurrent requests in shared transactions (one thread, in order).

    Args:
        engine: the database; the writer uses one pooled connection at a time.
        max_rows: rows per transaction at most (a batch closes early when the queue is empty).
        inline: commit the event loop's groups on the loop (no thread hand-off).
        tracing: where the transactions' spans go (off by default).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_rows: int = 2_000,
        inline: bool = False,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._engine = engine
        self._tracing = tracing
        self._max_rows = max_rows
        self._inline = inline
        #: Checkpoints move to the writer thread only where commits run on the loop (SQLite).
        self._own_checkpoints = inline and engine.dialect.name == "sqlite"
        self._commit_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._waiting: list[tuple[Rows, asyncio.Future[None]]] = []
        self._links: list[Any] = []
        self.commits = 0  # transactions committed (for tests and the benchmark's notes)
        self._held: Connection | None = None
        self._thread = threading.Thread(target=self._run, name="skyroute-writer", daemon=True)
        self._thread.start()

    def submit(self, rows: Rows) -> concurrent.futures.Future[None]:
        """Queue ``rows``; the future resolves when they are committed (or with the error)."""
        result: concurrent.futures.Future[None] = concurrent.futures.Future()

        def settle(group: concurrent.futures.Future[Outcomes]) -> None:
            error = group.exception() or group.result()[0]
            if error is None:
                result.set_result(None)
            else:
                result.set_exception(error)

        self._hand_over([rows], [self._tracing.link()]).add_done_callback(settle)
        return result

    def write(self, rows: Rows) -> None:
        """Store ``rows`` and return once they are committed (from a worker thread)."""
        self.submit(rows).result()

    async def write_async(self, rows: Rows) -> None:
        """Store ``rows`` and return once they are committed (from the event loop).

        Requests of the same loop iteration go to the writer as one group.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush, loop)
        self._waiting.append((rows, future))
        self._links.append(self._tracing.link())
        await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, []
        links, self._links = self._links, []
        if self._inline and not self._closed:
            done: concurrent.futures.Future[Outcomes] = concurrent.futures.Future()
            with self._commit_lock:  # one transaction at a time, with the thread's
                self._commit([_Group([rows for rows, _ in waiting], done, links)])
            _settle_all(waiting, done)
            return
        try:
            group = self._hand_over([rows for rows, _ in waiting], links)
        except WriterClosedError as exc:
            for _, future in waiting:
                future.set_exception(exc)
            return

        def wake(done: concurrent.futures.Future[Outcomes]) -> None:
            loop.call_soon_threadsafe(_settle_all, waiting, done)

        group.add_done_callback(wake)

    def _hand_over(
        self, requests: list[Rows], links: list[Any]
    ) -> concurrent.futures.Future[Outcomes]:
        group = _Group(requests, links=links)
        with self._lock:
            if self._closed:
                raise WriterClosedError("the decision writer is closed")
            self._queue.put(group)
        return group.done

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()
        with self._commit_lock:
            self._drop_connection()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(
                    timeout=CHECKPOINT_EVERY_S if self._own_checkpoints else None
                )
            except queue.Empty:
                self._checkpoint()
                continue
            if first is None:
                return
            if self._inline:
                with self._commit_lock:
                    self._commit([first])
                continue
            batch, rows = [first], first.size
            while rows < self._max_rows:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
                rows += more.size
            self._commit(batch)

    def _commit(self, batch: list[_Group]) -> None:
        requests = [rows for group in batch for rows in group.requests]
        try:
            with self._tracing.span(
                "storage.group_commit",
                {"skyroute.requests": len(requests), "skyroute.rows": sum(g.size for g in batch)},
                links=[link for group in batch for link in group.links],
                root=True,  # inline, the loop's context is one request's: not this span's parent
            ):
                self._insert(requests)
            outcomes: Outcomes = [None] * len(requests)
        except DBAPIError as exc:
            # Isolate the request whose rows failed: each in its own transaction.
            outcomes = [exc] if len(requests) == 1 else [self._alone(r) for r in requests]
        except BaseException as exc:  # anything else fails the batch, never the thread
            log.exception("decision writer failed")
            for group in batch:
                group.done.set_exception(exc)
            return
        start = 0
        for group in batch:
            end = start + len(group.requests)
            group.done.set_result(outcomes[start:end])
            start = end

    def _alone(self, rows: Rows) -> BaseException | None:
        try:
            self._insert([rows])
        except BaseException as exc:
            return exc
        return None

    def _insert(self, requests: list[Rows]) -> None:
        """One transaction: each table's rows of every request as one executemany."""
        by_table: dict[Table, list[Mapping[str, Any]]] = {}
        for rows in requests:
            for table, values in rows:
                by_table.setdefault(table, []).extend(values)
        for attempt in (1, 2):
            connection = self._connection()
            try:
                with connection.begin():
                    for table, values in by_table.items():
                        if values:
                            connection.execute(insert(table), values)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise  # e.g. a conflict: rolled back, the connection stays usable
                self._drop_connection()
                if attempt == 2:
                    raise
                continue  # the held connection had died (server restart, idle timeout)
            except BaseException:
                self._drop_connection()
                raise
            self.commits += 1
            return

    def _connection(self) -> Connection:
        """The writer's own connection, kept between transactions (no pool round trip)."""
        if self._held is None:
            self._held = self._engine.connect()
            if self._own_checkpoints:  # run in the writer thread, never on the loop
                _pragma(self._held, "PRAGMA wal_autocheckpoint=0")
        return self._held

    def _checkpoint(self) -> None:
        """Copy committed WAL pages into the database file without blocking writers (SQLite).

        A commit that crosses SQLite's automatic checkpoint threshold does this work itself,
        for milliseconds; on the event loop that stalled every request in flight.
        """
        try:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except DBAPIError:
            log.warning("WAL checkpoint failed; the next one retries", exc_info=True)

    def _drop_connection(self) -> None:
        if self._held is not None:
            if self._own_checkpoints and not self._held.invalidated:  # back as it came
                _pragma(self._held, "PRAGMA wal_autocheckpoint=1000")
            self._held.close()
            self._held = None


def _pragma(connection: Connection, statement: str) -> None:
    """A connection setting, outside any transaction (SQLite)."""
    driver = connection.connection.driver_connection
    if driver is not None:
        driver.execute(statement)


def _settle_all(
    waiting: list[tuple[Rows, asyncio.Future[None]]],
    done: concurrent.futures.Future[Outcomes],
) -> None:
    """On the loop: resolve every request of a group with its own outcome."""
    failure = done.exception()
    outcomes = done.result() if failure is None else [failure] * len(waiting)
    for (_, future), error in zip(waiting, outcomes, strict=True):
        if future.done():  # the request was cancelled (client gone); its rows are stored
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
