"""Live predictions through the real app (SQLite and PostgreSQL): a fill makes series live,
rounds store and stream predictions, schedulers share slots, actuals join the series."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from apiclient import TenantClient, make_tenant
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

RUN = "/api/v1/ml/predictions/run"
SERIES = "/api/v1/ml/predictions/series"
ACTUALS = "/api/v1/ml/actuals"
LIVE = "/api/v1/ml/predictions/live"
TODAY = datetime.now(UTC).date()
FILLED = [("m5.large", "us-east-1"), ("m5.large", "eu-west-1")]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No scheduler: these tests run rounds themselves (one test turns it on)."""
    return settings.model_copy(update={"live_prediction_interval_s": 0.0})


def _fill(tenant: TenantClient, regions: list[str] | None = None) -> dict[str, Any]:
    """A synthetic fill of m5.large's spot prices over the last three days, completed."""
    body = {
        "instance_types": ["m5.large"],
        "regions": regions or [r for _, r in FILLED],
        "data_types": ["spot_price"],
        "start": (TODAY - timedelta(days=2)).isoformat(),
        "source": "synthetic",
    }
    queued: Any = tenant.post("/api/v1/ml/gap-filler/fill", json=body)
    assert queued.status_code == 202, queued.text
    deadline = time.monotonic() + 120
    while True:
        status: Any = tenant.get(f"/api/v1/ml/gap-filler/status/{queued.json()['task_id']}")
        job: dict[str, Any] = status.json()
        if job["status"] != "in_progress":
            assert job["status"] == "completed", job
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _run(tenant: TenantClient) -> dict[str, Any]:
    response: Any = tenant.post(RUN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _series(tenant: TenantClient, query: str = "") -> dict[str, Any]:
    response: Any = tenant.get(SERIES + query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _points(tenant: TenantClient, kind: str, region: str = "us-east-1") -> list[dict[str, Any]]:
    (series,) = _series(tenant, f"?kind={kind}&instance_type=m5.large&region={region}")["series"]
    points: list[dict[str, Any]] = series["points"]
    return points


def test_a_fill_makes_its_series_live_and_a_run_is_stored_and_streamed(
    client: TestClient, tenant_a: TenantClient
) -> None:
    assert _run(tenant_a) == {"stored": 0, "series": 0}  # nothing filled, nothing live
    _fill(tenant_a)
    before = _series(tenant_a)  # live as soon as the fill completed, not yet predicted
    assert before["series"] == []
    assert [
        (s["instance_type"], s["region"], s["last_predicted_at"]) for s in before["live_series"]
    ] == [(t, r, None) for t, r in sorted(FILLED)]
    with client.websocket_connect(LIVE, headers=tenant_a.headers) as ws:
        assert _run(tenant_a) == {"stored": 4, "series": 2}
        events = [json.loads(ws.receive_text()) for _ in range(4)]
    assert {(e["kind"], e["instance_type"], e["region"]) for e in events} == {
        (kind, t, r) for kind in ("live-interruption", "live-price") for t, r in FILLED
    }
    for event in events:
        payload = event["payload"]
        assert payload["synthetic"] is True and payload["not_filled"] is None
        assert 0.0 < payload["confidence"] <= 1.0 and payload["slot"] is None
        at, target = (
            datetime.fromisoformat(v) for v in (event["created_at"], payload["target_at"])
        )
        hours = 24 if event["kind"] == "live-interruption" else 6
        assert target - at == timedelta(hours=hours)
    price = next(e for e in events if e["kind"] == "live-price")
    assert price["method"] == "recent-mean-24h" and price["model_version"] is None
    assert price["value"] > 0.0 and price["payload"]["history_hours"] > 24
    interruption = next(e for e in events if e["kind"] == "live-interruption")
    assert interruption["method"].startswith("advisor-bucket")
    assert 0.0 <= interruption["value"] <= 1.0

    body = _series(tenant_a)
    assert [(s["instance_type"], s["region"]) for s in body["live_series"]] == sorted(FILLED)
    assert all(s["last_predicted_at"] is not None for s in body["live_series"])
    assert {(s["region"], s["kind"]) for s in body["series"]} == {
        (r, k) for _, r in FILLED for k in ("interruption", "price")
    }
    streamed = {e["id"]: e["value"] for e in events}
    for series in body["series"]:
        (point,) = series["points"]
        assert streamed[point["prediction_id"]] == point["predicted"]
        assert point["actual"] is None and point["actual_source"] is None


def test_the_scheduler_predicts_on_its_own(settings: Settings) -> None:
    ticking = settings.model_copy(update={"live_prediction_interval_s": 0.2})
    with TestClient(create_app(ticking), raise_server_exceptions=False) as client:
        tenant = make_tenant(client, "alpha")
        _fill(tenant, ["us-east-1"])
        deadline = time.monotonic() + 60
        while True:  # two scheduled rounds, never asked for
            points = _points(tenant, "price") if _series(tenant)["series"] else []
            if len(points) >= 2:
                break
            assert time.monotonic() < deadline, points
            time.sleep(0.1)
        sessions = client.app.state.skyroute.sessions  # type: ignore[attr-defined]
    from skyroute.serve.tables import SpotRecord

    with sessions() as session:
        slots = session.scalars(select(SpotRecord.slot).where(SpotRecord.kind == "live-price"))
        slots = list(slots)
    assert None not in slots and len(set(slots)) == len(slots)


@pytest.fixture
def second_app(settings: Settings) -> Iterator[Any]:
    """Another server process on the same database (no lifespan: rounds are run by hand)."""
    app = create_app(settings)
    yield app.state.skyroute
    app.state.skyroute.close()


def test_two_schedulers_store_a_slot_once(
    client: TestClient, tenant_a: TenantClient, second_app: Any
) -> None:
    from skyroute.serve.live_rounds import run_round, slot_of
    from skyroute.serve.tables import SpotRecord

    _fill(tenant_a)
    states = [client.app.state.skyroute, second_app]  # type: ignore[attr-defined]
    at = datetime.now(UTC)
    slot = slot_of(at, 300.0)
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def round_of(i: int) -> None:
        start.wait()
        results[i] = run_round(states[i], None, at, slot)

    threads = [threading.Thread(target=round_of, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.stored for r in results) == 4  # 2 series x 2 kinds, between both processes
    assert run_round(states[1], None, at + timedelta(seconds=1), slot).stored == 0
    with states[0].sessions() as session:
        per_slot = session.execute(
            select(SpotRecord.kind, SpotRecord.region, func.count())
            .where(SpotRecord.slot == slot)
            .group_by(SpotRecord.kind, SpotRecord.region)
        ).all()
    assert sorted(per_slot) == sorted(
        (k, r, 1) for k in ("live-interruption", "live-price") for _, r in FILLED
    )
    later = at + timedelta(seconds=300)
    assert run_round(states[1], None, later, slot_of(later, 300.0)).stored == 4  # a new slot


def test_prediction_actuals_are_idempotent_private_and_checked(
    tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    _fill(tenant_a, ["us-east-1"])
    _run(tenant_a)
    (interruption,) = _points(tenant_a, "interruption")
    (price,) = _points(tenant_a, "price")
    first = {"prediction_id": interruption["prediction_id"], "interrupted": True}
    stored: Any = tenant_a.post(ACTUALS, json=first)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": 1, "already": 0}
    again: Any = tenant_a.post(ACTUALS, json={"actuals": [first]})
    assert again.json() == {"stored": 0, "already": 1}
    changed: Any = tenant_a.post(ACTUALS, json=first | {"interrupted": False})
    assert changed.status_code == 409 and changed.json()["error"]["fix"]

    wrong: Any = tenant_a.post(
        ACTUALS, json={"prediction_id": price["prediction_id"], "interrupted": False}
    )
    assert wrong.status_code == 422 and "price_usd" in wrong.json()["error"]["fix"]
    # all or nothing: one unknown id and the good item beside it is not stored either
    batch = [
        {"prediction_id": price["prediction_id"], "price_usd": 0.05},
        {"prediction_id": "no-such-prediction", "price_usd": 0.05},
    ]
    refused: Any = tenant_a.post(ACTUALS, json={"actuals": batch})
    assert refused.status_code == 404 and "no-such-prediction" in refused.json()["error"]["message"]
    assert _points(tenant_a, "price")[0]["actual"] is None

    theirs: Any = tenant_b.post(
        ACTUALS, json={"prediction_id": price["prediction_id"], "price_usd": 0.05}
    )
    assert theirs.status_code == 404 and set(theirs.json()["error"]) == {"code", "message", "fix"}
    assert _points(tenant_a, "price")[0]["actual"] is None


def test_the_series_joins_posted_and_market_actuals(
    client: TestClient, tenant_a: TenantClient
) -> None:
    from skyroute.gapfill.store import write_points
    from skyroute.gapfill.tables import MarketPointRow
    from skyroute.market.points import MarketPoint, SeriesKey

    _fill(tenant_a, ["us-east-1"])
    _run(tenant_a)
    _run(tenant_a)  # asked-for rounds have no slot: two points per series
    posted, by_market = _points(tenant_a, "price")
    interruption = _points(tenant_a, "interruption")[0]
    body = {
        "actuals": [
            {"prediction_id": posted["prediction_id"], "price_usd": 0.031},
            {"prediction_id": interruption["prediction_id"], "interrupted": False},
        ]
    }
    assert tenant_a.post(ACTUALS, json=body).json() == {"stored": 2, "already": 0}  # type: ignore[attr-defined]
    pending = _points(tenant_a, "price")[1]
    assert (pending["actual"], pending["actual_source"]) == (None, None)  # not observed yet

    # The market moves on past the targets: every zone at 0.5 before, 9.9 after them.
    target = datetime.fromisoformat(by_market["target_at"])
    sessions = client.app.state.skyroute.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        zones = set(
            session.scalars(
                select(MarketPointRow.zone).where(MarketPointRow.instance_type == "m5.large")
            )
        )
        points = []
        for zone in zones:
            key = SeriesKey("spot_price", "aws", "us-east-1", "m5.large", zone)
            points.append(MarketPoint(key, target - timedelta(minutes=1), 0.5, "aws", False))
            points.append(MarketPoint(key, target + timedelta(hours=1), 9.9, "aws", False))
        write_points(session, points)
        session.commit()

    first, second = _points(tenant_a, "price")
    assert (first["actual"], first["actual_source"]) == (0.031, "posted")
    assert (second["actual"], second["actual_source"]) == (0.5, "market")
    assert (
        second["actual_synthetic"] is False
        and second["prediction_id"] == by_market["prediction_id"]
    )
    stopped = _points(tenant_a, "interruption")[0]
    assert (stopped["actual"], stopped["actual_source"]) == (0.0, "posted")


def test_series_and_runs_are_tenant_private_and_names_are_checked(
    tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    _fill(tenant_a, ["us-east-1"])
    assert _run(tenant_a)["stored"] == 2
    assert _run(tenant_b) == {"stored": 0, "series": 0}
    assert _series(tenant_b) == {"series": [], "live_series": []}
    assert len(_series(tenant_a)["series"]) == 2
    for query, expected in (
        ("?instance_type=m5.larg", "m5.large"),
        ("?region=us-east-9", "us-east-1"),
    ):
        refused: Any = tenant_a.get(SERIES + query)
        assert refused.status_code == 422, refused.text
        assert expected in refused.json()["error"]["fix"]


def test_an_operator_fill_is_live_for_tenants_with_a_spot_model_and_says_what_it_left_out(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient, tmp_path: Any
) -> None:
    from test_gapfill_api import _upload_and_activate, spot_model_zip

    from skyroute.gapfill.service import FillIn, start_fill

    _upload_and_activate(tenant_a, spot_model_zip(tmp_path, "2026-01-01"))
    state = client.app.state.skyroute  # type: ignore[attr-defined]
    capped = state.settings.model_copy(update={"gap_filler_historic_days_max": 2})
    body = FillIn(
        trained_until=TODAY - timedelta(days=10),
        instance_types=["m5.large"],
        regions=["us-east-1"],
        data_types=["spot_price"],
        source="synthetic",
    )
    with state.sessions() as session:
        job = start_fill(session, capped, None, body)  # the operator's, as on start-up
    state.nudge_gap_filler()
    deadline = time.monotonic() + 120
    while _run(tenant_a)["series"] == 0:  # live once the job completes
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _run(tenant_b) == {"stored": 0, "series": 0}  # no spot model: not B's series
    with state.sessions() as session:
        from skyroute.gapfill.tables import GapFillJob

        left_out = session.get(GapFillJob, job.id).request["not_filled"]
    assert left_out["days"] == 8
    with client.websocket_connect(LIVE, headers=tenant_a.headers) as ws:
        assert _run(tenant_a) == {"stored": 2, "series": 1}
        events = [json.loads(ws.receive_text()) for _ in range(2)]
    for event in events:
        assert event["payload"]["not_filled"] == left_out
    interruption = next(e for e in events if e["kind"] == "live-interruption")
    assert (interruption["method"], interruption["model_version"]) == ("model", "spot@1")


def test_a_failing_series_never_stops_the_others(
    client: TestClient, tenant_a: TenantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skyroute.serve import live_rounds

    _fill(tenant_a)
    real = live_rounds.predict_series

    def broken_in_europe(session: Any, state: Any, series: Any, at: datetime) -> Any:
        if series.region == "eu-west-1":
            raise RuntimeError("a model that crashes")
        return real(session, state, series, at)

    monkeypatch.setattr(live_rounds, "predict_series", broken_in_europe)
    assert _run(tenant_a) == {"stored": 2, "series": 2}
    assert {s["region"] for s in _series(tenant_a)["series"]} == {"us-east-1"}
    metrics = client.get("/metrics").text
    assert 'skyroute_live_predictions_total{outcome="failed"} 1.0' in metrics
    assert 'skyroute_live_predictions_total{outcome="stored"} 2.0' in metrics
