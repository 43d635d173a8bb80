"""The stream hub: bounded per-subscriber queues, tenant isolation, filters (pure, no server)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import orjson
import pytest

from skyroute.errors import UnknownNameError
from skyroute.serve.live.events import DecisionEvent, Filters, PredictionEvent, PredictionFilters
from skyroute.serve.live.hub import Hub

EVENT = DecisionEvent(
    id="d1",
    tenant_id="t1",
    created_at="2026-11-29T10:00:00+00:00",
    function_id="fn",
    engine="greedy",
    provider="aws",
    region="eu-west-1",
    memory_mb=512,
    platform="function",
    purchase="on-demand",
    fallback=False,
    fallback_reason=None,
    expected={"cost_usd": 1e-6},
    explanation="",
    worker="w",
)

PREDICTION = PredictionEvent(
    id="r1",
    tenant_id="t1",
    created_at="2026-11-29T10:00:00+00:00",
    kind="prediction",
    instance_type="m5.large",
    region="us-east-1",
    value=0.05,
    method="advisor-bucket",
    model_version=None,
    payload={"confidence": 0.8},
    worker="w",
)


def test_a_full_queue_drops_only_its_subscriber() -> None:
    async def scenario() -> None:
        dropped: list[int] = []
        hub = Hub(queue_size=2, on_drop=lambda: dropped.append(1))
        slow = hub.subscribe("t1", Filters())
        reader = hub.subscribe("t1", Filters())
        for n in range(3):
            hub.deliver([replace(EVENT, id=f"d{n}")])
            reader.queue.get_nowait()  # this one keeps up
        assert slow.dropped.is_set() and not reader.dropped.is_set()
        assert (dropped, hub.subscribers) == ([1], 1)

    asyncio.run(scenario())


def test_events_reach_only_their_tenant_and_matching_filters() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=10)
        other_tenant = hub.subscribe("t2", Filters())
        in_gcp = hub.subscribe("t1", Filters(provider="gcp"))
        in_ireland = hub.subscribe("t1", Filters(provider="aws", region="eu-west-1"))
        hub.deliver([EVENT, replace(EVENT, id="d2", provider="gcp", region="europe-west1")])
        assert other_tenant.queue.empty()
        assert in_gcp.queue.get_nowait().id == "d2" and in_gcp.queue.empty()
        assert in_ireland.queue.get_nowait().id == "d1" and in_ireland.queue.empty()

    asyncio.run(scenario())


def test_unknown_filter_names_say_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match="region 'eu-west-9'") as raised:
        Filters.parse({"region": "eu-west-9"}, ("aws", "gcp"), ("eu-west-1", "us-east-1"))
    assert "did you mean 'eu-west-1'" in raised.value.fix


def test_an_event_survives_the_redis_message_round_trip() -> None:
    assert DecisionEvent.from_dict(orjson.loads(EVENT.to_json())) == EVENT


def test_each_stream_hears_only_its_own_events() -> None:
    async def scenario() -> None:
        hub = Hub(queue_size=10)
        decisions = hub.subscribe("t1", Filters())
        predictions = hub.subscribe("t1", PredictionFilters())
        in_ireland = hub.subscribe("t1", PredictionFilters(region="eu-west-1"))
        hub.deliver([EVENT, PREDICTION, replace(PREDICTION, id="r2", region="eu-west-1")])
        assert decisions.queue.get_nowait() is EVENT and decisions.queue.empty()
        assert [predictions.queue.get_nowait().id for _ in range(2)] == ["r1", "r2"]
        assert in_ireland.queue.get_nowait().id == "r2" and in_ireland.queue.empty()
        assert hub.wants("predictions", "t1") and not hub.wants("predictions", "t2")

    asyncio.run(scenario())


def test_unknown_instance_types_say_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match=r"instance type 'm5\.larg'") as raised:
        PredictionFilters.parse({"instance_type": "m5.larg"}, ("m5.large", "c5.large"), ())
    assert "did you mean 'm5.large'" in raised.value.fix


def test_a_prediction_survives_the_redis_message_round_trip() -> None:
    assert PredictionEvent.from_dict(orjson.loads(PREDICTION.to_json())) == PREDICTION
