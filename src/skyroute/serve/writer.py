"""Group commit: one writer thread per process stores the rows of concurrent requests together.

A request hands its rows (decisions, an idempotency key) to the writer and waits until the
transaction that holds them has committed, so nothing is answered before it is stored. While
one transaction commits, the next requests queue up and go into the following one: under load
one commit serves tens of requests instead of one each, and no request holds a pooled
connection while it waits (the old path held one per request and ran out of them).

A batch that fails (say, one request's idempotency key was stored by a concurrent retry) is
retried request by request, so only the request whose rows conflict sees the error.
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

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

#: One request's writes: rows per table, inserted in the order given.
Rows = Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]


def column_values(row: Any) -> dict[str, Any]:
    """An ORM object's column values, as the writer inserts them (columns left unset: NULL)."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


class WriterClosedError(RuntimeError):
    """The writer was closed (the server is shutting down); nothing was stored."""


@dataclass
class _Pending:
    rows: Rows
    done: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)

    @property
    def size(self) -> int:
        return sum(len(values) for _, values in self.rows)


class GroupCommitWriter:
    """Commits the rows of concurrent requests in shared transactions (one thread, in order).

    Args:
        engine: the database; the writer uses one pooled connection at a time.
        max_rows: rows per transaction at most (a batch closes early when the queue is empty).
    """

    def __init__(self, engine: Engine, *, max_rows: int = 2_000) -> None:
        self._engine = engine
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="skyroute-writer", daemon=True)
        self._thread.start()
        self.commits = 0  # transactions committed (for tests and the benchmark's notes)

    def submit(self, rows: Rows) -> concurrent.futures.Future[None]:
        """Queue ``rows``; the future resolves when they are committed (or with the error)."""
        pending = _Pending(rows)
        with self._lock:
            if self._closed:
                raise WriterClosedError("the decision writer is closed")
            self._queue.put(pending)
        return pending.done

    def write(self, rows: Rows) -> None:
        """Store ``rows`` and return once they are committed (from a worker thread)."""
        self.submit(rows).result()

    async def write_async(self, rows: Rows) -> None:
        """Store ``rows`` and return once they are committed (from the event loop)."""
        await asyncio.wrap_future(self.submit(rows))

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
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

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._insert(batch)
        except DBAPIError:
            if len(batch) == 1:
                self._settle(batch[0])
                return
            for pending in batch:  # isolate the request whose rows failed
                self._settle(pending)
            return
        except BaseException as exc:  # anything else fails the batch, never the thread
            log.exception("decision writer failed")
            for pending in batch:
                pending.done.set_exception(exc)
            return
        for pending in batch:
            pending.done.set_result(None)

    def _settle(self, pending: _Pending) -> None:
        try:
            self._insert([pending])
        except BaseException as exc:
            pending.done.set_exception(exc)
        else:
            pending.done.set_result(None)

    def _insert(self, batch: list[_Pending]) -> None:
        """One transaction: each table's rows of the whole batch as one executemany."""
        by_table: dict[Table, list[Mapping[str, Any]]] = {}
        for pending in batch:
            for table, values in pending.rows:
                by_table.setdefault(table, []).extend(values)
        with self._engine.begin() as connection:
            for table, values in by_table.items():
                if values:
                    connection.execute(insert(table), values)
        self.commits += 1
