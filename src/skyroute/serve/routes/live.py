"""``/api/v1/ml/decisions/live``, ``/api/v1/ml/predictions/live`` and
``/api/v1/ml/alerts/live``: a tenant's decisions, spot predictions and drift alerts as they are
stored, over a WebSocket. The streams work the same way; each has its own filters and its own
replay.

The HTTP auth gate does not see WebSockets, so the key is checked here, during the handshake:
``Authorization: Bearer <key>`` or, for browsers (which cannot set headers on a WebSocket),
``?api_key=``. Refusals close the socket with a code and a reason a client can show:

- 1008 (policy violation): a missing or unknown key, an unknown filter value (provider,
  region, instance type, alert kind) or cursor;
- 1013 (try again later): the client fell ``SKYROUTE_LIVE_QUEUE_SIZE`` events behind and was
  dropped; reconnect with ``?after=<last id received>`` to miss nothing.

``?after=<event id>`` replays the tenant's stored events after that one, then continues
live: the stream subscribes before it reads the database, and a live event the replay already
sent is skipped, so there is neither a gap nor a duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from skyroute.errors import UnknownNameError
from skyroute.serve.auth import hash_key
from skyroute.serve.live.events import (
    AlertFilters,
    EventFilter,
    Filters,
    LiveEvent,
    PredictionFilters,
)
from skyroute.serve.live.hub import Subscriber
from skyroute.serve.live.replay import (
    ALERTS,
    DECISIONS,
    PREDICTIONS,
    Replay,
    UnknownCursorError,
)
from skyroute.serve.state import AppState

router = APIRouter(prefix="/api/v1/ml", tags=["live"])

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
#: A close frame's reason is at most 123 bytes (RFC 6455, 5.5).
MAX_REASON_BYTES = 123


class Refused(Exception):
    """The stream cannot be opened: closed with 1008 and this reason."""


@dataclass(frozen=True)
class Stream:
    """One stream: how its query's filters are read (blocking) and how it replays."""

    filters: Callable[[AppState, WebSocket], EventFilter]
    replay: Replay


def _decision_filters(state: AppState, websocket: WebSocket) -> EventFilter:
    world = state.world  # waits for the start-up build (hence the threadpool)
    regions = {region_id.partition(":")[2] for region_id in world.region_ids}
    try:
        return Filters.parse(websocket.query_params, world.providers, regions)
    except UnknownNameError as exc:
        raise Refused(f"{exc.message}; {exc.fix}") from None


def _prediction_filters(state: AppState, websocket: WebSocket) -> EventFilter:
    from skyroute.market import universe

    pairs = universe.offers()  # loads the shipped catalog once (hence the threadpool)
    instance_types = {instance_type for instance_type, _ in pairs}
    regions = {region for _, region in pairs}
    try:
        return PredictionFilters.parse(websocket.query_params, instance_types, regions)
    except UnknownNameError as exc:
        raise Refused(f"{exc.message}; {exc.fix}") from None


def _alert_filters(state: AppState, websocket: WebSocket) -> EventFilter:
    try:
        return AlertFilters.parse(websocket.query_params)
    except UnknownNameError as exc:
        raise Refused(f"{exc.message}; {exc.fix}") from None


DECISION_STREAM = Stream(_decision_filters, DECISIONS)
PREDICTION_STREAM = Stream(_prediction_filters, PREDICTIONS)
ALERT_STREAM = Stream(_alert_filters, ALERTS)


#: Streams re-check their API key at least this often (or as often as the key cache expires).
KEY_RECHECK_MIN_S = 1.0


@router.websocket("/decisions/live")
async def decisions_live(websocket: WebSocket) -> None:
    """Every decision of the caller's tenant, as JSON text frames, optionally filtered by
    ``engine``, ``provider`` and ``region`` and resumed ``after`` a decision id."""
    await _open(websocket, DECISION_STREAM)


@router.websocket("/predictions/live")
async def predictions_live(websocket: WebSocket) -> None:
    """Every spot prediction and spot-optimize recommendation of the caller's tenant, as JSON
    text frames, optionally filtered by ``instance_type`` and ``region`` and resumed ``after``
    a record id."""
    await _open(websocket, PREDICTION_STREAM)


@router.websocket("/alerts/live")
async def alerts_live(websocket: WebSocket) -> None:
    """Every drift alert of the caller's tenant as it is stored, as JSON text frames,
    optionally filtered by ``kind`` (input, error) and ``engine`` and resumed ``after`` an
    alert id."""
    await _open(websocket, ALERT_STREAM)


async def _open(websocket: WebSocket, stream: Stream) -> None:
    """Authenticate, read the filters and cursor, subscribe, then serve until the end."""
    state: AppState = websocket.app.state.skyroute
    try:
        tenant, key_hash = await _tenant(state, websocket)
        filters = await run_in_threadpool(stream.filters, state, websocket)
        after = websocket.query_params.get("after") or None
        cursor = None
        if after is not None:
            cursor = (await run_in_threadpool(_cursor, state, stream.replay, tenant, after), after)
    except Refused as exc:
        await websocket.accept()  # a close before the handshake would carry no reason
        await _close(websocket, POLICY_VIOLATION, str(exc))
        return
    assert state.live is not None  # create_app always sets it
    hub = state.live.hub
    # Subscribed before the handshake completes (nothing stored after a client's connect
    # returns is missed) and before the replay reads (no gap).
    subscriber = hub.subscribe(tenant, filters)
    try:
        await websocket.accept()
        await _serve(websocket, state, stream.replay, subscriber, cursor, key_hash)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _tenant(state: AppState, websocket: WebSocket) -> tuple[str, str]:
    """(tenant, key hash) of the connection's API key."""
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    key = key or websocket.query_params.get("api_key", "").strip()
    if not key:
        raise Refused("missing API key: send 'Authorization: Bearer <key>' or ?api_key=<key>")
    key_hash = hash_key(key)
    cached = state.keys.peek(key_hash)
    tenant = cached.tenant_id if cached else await run_in_threadpool(state.keys.load, key_hash)
    if tenant is None:
        raise Refused("unknown or revoked API key")
    return tenant, key_hash


def _cursor(state: AppState, replay: Replay, tenant: str, after: str) -> Any:
    try:
        return replay.find_cursor(state.sessions, tenant, after)
    except UnknownCursorError:
        raise Refused(f"unknown {replay.noun} id {after!r} in ?after=") from None


async def _serve(
    websocket: WebSocket,
    state: AppState,
    replay: Replay,
    subscriber: Subscriber,
    cursor: tuple[Any, str] | None,
    key_hash: str,
) -> None:
    """Replay from ``cursor``, then send live events until the client leaves, is dropped, or
    its key is revoked."""
    gone = asyncio.create_task(_until_disconnect(websocket))
    dropped = asyncio.create_task(_ended(state, subscriber, key_hash))
    try:
        replayed: set[str] = set()
        while cursor is not None:
            page = run_in_threadpool(
                replay.page_after, state.sessions, subscriber.tenant_id, cursor, subscriber.filters
            )
            done, result = await _race(page, gone, dropped)
            if not done:
                break
            events, cursor = result
            for event in events:
                if not await _send(websocket, event, gone, dropped):
                    break
                replayed.add(event.id)
        while not gone.done() and not dropped.done():
            done, event = await _race(subscriber.queue.get(), gone, dropped)
            if not done or event.id in replayed:
                continue
            if not await _send(websocket, event, gone, dropped):
                break
        if dropped.done() and not gone.done():
            await _close(websocket, *dropped.result())
    finally:
        gone.cancel()
        dropped.cancel()


async def _ended(state: AppState, subscriber: Subscriber, key_hash: str) -> tuple[int, str]:
    """(close code, reason) of the first thing that ends a stream on the server's side: the
    subscriber's queue overflowed, or its API key was revoked (checked as often as the key
    cache expires, so a revoked key stops its streams as soon as it stops its requests)."""
    drop = asyncio.ensure_future(subscriber.dropped.wait())
    revoke = asyncio.ensure_future(_until_revoked(state, key_hash))
    done, pending = await asyncio.wait({drop, revoke}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if drop in done:
        return TRY_AGAIN_LATER, (
            "too slow: the event queue was full; reconnect with ?after=<last id received>"
        )
    return POLICY_VIOLATION, "the API key was revoked"


async def _until_revoked(state: AppState, key_hash: str) -> None:
    interval = max(float(state.settings.key_cache_seconds), KEY_RECHECK_MIN_S)
    while True:
        await asyncio.sleep(interval)
        if await run_in_threadpool(state.keys.load, key_hash) is None:
            return


async def _send(
    websocket: WebSocket, event: LiveEvent, gone: asyncio.Task[Any], dropped: asyncio.Task[Any]
) -> bool:
    """Send ``event``; False when the client left or was dropped before it went out."""
    done, _ = await _race(websocket.send_text(event.to_json().decode()), gone, dropped)
    return done


async def _race(
    work: Awaitable[Any], gone: asyncio.Task[Any], dropped: asyncio.Task[Any]
) -> tuple[bool, Any]:
    """(True, result) of ``work``, or (False, None) when the client left or was dropped first."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task, gone, dropped}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        return True, task.result()
    task.cancel()
    return False, None


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it disconnects."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    encoded = reason.encode()[:MAX_REASON_BYTES]
    await websocket.close(code, encoded.decode(errors="ignore"))
