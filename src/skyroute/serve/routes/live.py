"""``/api/v1/ml/decisions/live``: a tenant's decisions as they are stored, over a WebSocket.

The HTTP auth gate does not see WebSockets, so the key is checked here, after the handshake:
``Authorization: Bearer <key>`` or, for browsers (which cannot set headers on a WebSocket),
``?api_key=``. Refusals close the socket with a code and a reason a client can show:

- 1008 (policy violation): a missing or unknown key, an unknown provider, region or cursor;
- 1013 (try again later): the client fell ``SKYROUTE_LIVE_QUEUE_SIZE`` events behind and was
  dropped; reconnect with ``?after=<last id received>`` to miss nothing.

``?after=<decision id>`` replays the tenant's stored decisions after that one, then continues
live: the stream subscribes before it reads the database, and a live event the replay already
sent is skipped, so there is neither a gap nor a duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from skyroute.errors import UnknownNameError
from skyroute.serve.auth import hash_key
from skyroute.serve.live.events import DecisionEvent, Filters
from skyroute.serve.live.hub import Subscriber
from skyroute.serve.live.replay import UnknownCursorError, find_cursor, page_after
from skyroute.serve.state import AppState

router = APIRouter(prefix="/api/v1/ml", tags=["live"])

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
#: A close frame's reason is at most 123 bytes (RFC 6455, 5.5).
MAX_REASON_BYTES = 123


class Refused(Exception):
    """The stream cannot be opened: closed with 1008 and this reason."""


@router.websocket("/decisions/live")
async def decisions_live(websocket: WebSocket) -> None:
    """Every decision of the caller's tenant, as JSON text frames, optionally filtered by
    ``engine``, ``provider`` and ``region`` and resumed ``after`` a decision id."""
    state: AppState = websocket.app.state.skyroute
    await websocket.accept()
    try:
        tenant = await _tenant(state, websocket)
        filters = await run_in_threadpool(_filters, state, websocket)
        after = websocket.query_params.get("after") or None
        cursor = None
        if after is not None:
            cursor = (await run_in_threadpool(_cursor, state, tenant, after), after)
    except Refused as exc:
        await _close(websocket, POLICY_VIOLATION, str(exc))
        return
    assert state.live is not None  # create_app always sets it
    hub = state.live.hub
    subscriber = hub.subscribe(tenant, filters)  # before the replay reads: no gap
    try:
        await _serve(websocket, state, subscriber, cursor)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _tenant(state: AppState, websocket: WebSocket) -> str:
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
    return tenant


def _filters(state: AppState, websocket: WebSocket) -> Filters:
    world = state.world  # waits for the start-up build (hence the threadpool)
    regions = {region_id.partition(":")[2] for region_id in world.region_ids}
    try:
        return Filters.parse(websocket.query_params, world.providers, regions)
    except UnknownNameError as exc:
        raise Refused(f"{exc.message}; {exc.fix}") from None


def _cursor(state: AppState, tenant: str, after: str) -> Any:
    try:
        return find_cursor(state.sessions, tenant, after)
    except UnknownCursorError:
        raise Refused(f"unknown decision id {after!r} in ?after=") from None


async def _serve(
    websocket: WebSocket,
    state: AppState,
    subscriber: Subscriber,
    cursor: tuple[Any, str] | None,
) -> None:
    """Replay from ``cursor``, then send live events until the client leaves or is dropped."""
    gone = asyncio.create_task(_until_disconnect(websocket))
    dropped = asyncio.create_task(subscriber.dropped.wait())
    try:
        replayed: set[str] = set()
        while cursor is not None:
            page = run_in_threadpool(
                page_after, state.sessions, subscriber.tenant_id, cursor, subscriber.filters
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
            await _close(
                websocket,
                TRY_AGAIN_LATER,
                "too slow: the event queue was full; reconnect with ?after=<last id received>",
            )
    finally:
        gone.cancel()
        dropped.cancel()


async def _send(
    websocket: WebSocket, event: DecisionEvent, gone: asyncio.Task[Any], dropped: asyncio.Task[Any]
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
