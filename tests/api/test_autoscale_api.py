"""Autoscale series through the real app: the service, its load, the recommended replicas
(predictive = ``skyroute.autoscale.scaling`` on the same history), the gauge, bad input and
tenant isolation -- on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from apiclient import TenantClient, upload_and_activate
from bundlemaker import mlp_bundle
from skyroute.autoscale.scaling import Service, recommend
from skyroute.bundles import pack_bundle
from skyroute.bundles.forecaster import HORIZON, Forecaster
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

BASE = "/api/v1/ml/autoscale/series"
SERVICE = {
    "capacity_per_replica": 20.0,
    "target": 0.5,
    "startup_minutes": 3,
    "lookahead_minutes": 2,
    "min_replicas": 2,
    "max_replicas": 80,
}
#: The last whole minute before now, minus a margin: minutes posted are in the past.
START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def minutes(calls: list[float], start: datetime = START) -> list[dict[str, Any]]:
    return [
        {"minute": (start + timedelta(minutes=i)).isoformat(), "calls": c}
        for i, c in enumerate(calls)
    ]


def forecast_bundle(tmp_path: Path, n_out: int = HORIZON, name: str = "fc") -> Path:
    """A tiny MLP forecaster whose forecast (about 300 calls per minute) is far above the
    load posted, so a predictive answer differs from a reactive one."""
    return mlp_bundle(
        tmp_path / name, kind="forecast.load", n_in=12, n_out=n_out, bias=[300.0] * n_out
    )


def activate_forecaster(tenant: TenantClient, folder: Path, model_id: str = "load") -> None:
    upload_and_activate(tenant, pack_bundle(folder, folder.with_suffix(".zip")), model_id)


def put_series(tenant: TenantClient, name: str, **service: Any) -> Any:
    return tenant.put(f"{BASE}/{name}", json={**SERVICE, **service})


def post_load(tenant: TenantClient, name: str, points: list[dict[str, Any]]) -> Any:
    return tenant.post(f"{BASE}/{name}/load", json={"points": points})


def recommendation(tenant: TenantClient, name: str) -> Any:
    response: Any = tenant.get(f"{BASE}/{name}/recommendation")
    assert response.status_code == 200, response.text
    return response.json()


def service() -> Service:
    return Service(
        capacity=SERVICE["capacity_per_replica"], target=SERVICE["target"],
        startup=SERVICE["startup_minutes"], lookahead=SERVICE["lookahead_minutes"],
        min_replicas=SERVICE["min_replicas"], max_replicas=SERVICE["max_replicas"],
    )  # fmt: skip


def test_a_series_is_created_read_replaced_listed_and_deleted(tenant_a: TenantClient) -> None:
    created = put_series(tenant_a, "web")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["metric"]["name"] == "skyroute_recommended_replicas"
    assert list(body["metric"]["labels"]) == ["series_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["metric"]["labels"]["series_id"])
    assert body["last_replicas"] is None and body["startup_minutes"] == 3
    defaults: Any = tenant_a.put(f"{BASE}/api", json={"capacity_per_replica": 5})
    assert defaults.status_code == 201
    assert {k: defaults.json()[k] for k in ("target", "startup_minutes", "max_replicas")} == {
        "target": 0.7, "startup_minutes": 2, "max_replicas": 100,
    }  # fmt: skip
    replaced = put_series(tenant_a, "web", max_replicas=40)
    assert replaced.status_code == 200 and replaced.json()["max_replicas"] == 40
    read: Any = tenant_a.get(f"{BASE}/web")
    assert read.json()["max_replicas"] == 40 and read.json()["created_at"] == body["created_at"]
    listed: Any = tenant_a.get(BASE)
    assert [s["name"] for s in listed.json()["series"]] == ["api", "web"]
    assert listed.json()["limit"] == 50
    deleted: Any = tenant_a.delete(f"{BASE}/web")
    assert deleted.json() == {"series": "web", "deleted": True}
    gone: Any = tenant_a.get(f"{BASE}/web")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_with_an_active_forecaster_the_recommendation_is_scalings_predictive_rule(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    folder = forecast_bundle(tmp_path)
    activate_forecaster(tenant_a, folder)
    put_series(tenant_a, "web")
    load = [40.0 + 3 * i for i in range(20)]
    posted = post_load(tenant_a, "web", minutes(load))
    assert posted.status_code == 200, posted.text
    assert posted.json()["stored"] == 20
    got = recommendation(tenant_a, "web")
    assert got == posted.json()["recommendation"]
    expected_forecast = Forecaster.from_bundle(folder).forecast(np.asarray(load[-12:]))
    np.testing.assert_allclose(got["forecast"], expected_forecast, rtol=1e-6)
    expected = recommend(load[-1], expected_forecast, service())
    assert got["mode"] == "predictive"
    assert got["replicas"] == expected
    assert got["reactive_replicas"] == service().wanted(load[-1]) < expected
    assert got["model"] == {"model_id": "load", "version": "1"}
    assert got["observed"] == {"minute": (START + timedelta(minutes=19)).isoformat(), "calls": 97}
    assert got["reason"].startswith("predictive: load@1")


def test_without_a_model_the_recommendation_is_reactive_and_says_why(
    tenant_a: TenantClient,
) -> None:
    put_series(tenant_a, "web")
    empty = recommendation(tenant_a, "web")
    assert empty["observed"] is None and empty["replicas"] == SERVICE["min_replicas"]
    assert "no load posted yet" in empty["reason"]
    post_load(tenant_a, "web", minutes([10.0] * 11 + [95.0]))
    got = recommendation(tenant_a, "web")
    assert got["mode"] == "reactive" and got["forecast"] is None and got["model"] is None
    assert got["replicas"] == got["reactive_replicas"] == 10  # ceil(95 / (20 x 0.5))
    assert "no active forecast.load model" in got["reason"]


def test_short_or_gapped_history_is_reactive_until_the_window_is_whole(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    activate_forecaster(tenant_a, forecast_bundle(tmp_path))
    put_series(tenant_a, "web")
    post_load(tenant_a, "web", minutes([50.0] * 5))
    short = recommendation(tenant_a, "web")
    assert short["mode"] == "reactive" and short["forecast"] is None
    assert "short history, 5 of the 12 minutes" in short["reason"]
    assert short["model"] == {"model_id": "load", "version": "1"}
    # Minutes 0-4 and 8-15: 13 minutes stored, but 3 of the last 12 (minutes 5-7) are missing.
    post_load(tenant_a, "web", minutes([50.0] * 8, START + timedelta(minutes=8)))
    gap = recommendation(tenant_a, "web")
    assert gap["mode"] == "reactive"
    assert "3 of the last 12 minutes are missing" in gap["reason"]
    assert "post idle minutes as 0" in gap["reason"]
    post_load(tenant_a, "web", minutes([0.0] * 3, START + timedelta(minutes=5)))
    whole = recommendation(tenant_a, "web")
    assert whole["mode"] == "predictive" and len(whole["forecast"]) == HORIZON


def test_a_forecaster_that_cannot_be_used_answers_reactive_never_500(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    activate_forecaster(tenant_a, forecast_bundle(tmp_path, n_out=1, name="old"), "old")
    put_series(tenant_a, "web")
    posted = post_load(tenant_a, "web", minutes([30.0] * 12))
    assert posted.status_code == 200, posted.text
    got = posted.json()["recommendation"]
    assert got["mode"] == "reactive" and got["model"] == {"model_id": "old", "version": "1"}
    assert "old@1 cannot be used" in got["reason"] and "1 minute(s) ahead" in got["reason"]
    metrics = tenant_a.client.get("/metrics").text
    assert 'skyroute_model_load_failures_total{kind="forecast.load"} 1.0' in metrics


def test_a_forecaster_failing_at_predict_time_answers_reactive(
    tenant_a: TenantClient, tmp_path: Path
) -> None:
    nan = mlp_bundle(
        tmp_path / "nan", kind="forecast.load", n_in=12, n_out=HORIZON, bias=[float("nan")] * 12
    )
    activate_forecaster(tenant_a, nan, "nan")
    put_series(tenant_a, "web")
    got = post_load(tenant_a, "web", minutes([95.0] * 12)).json()["recommendation"]
    assert got["mode"] == "reactive" and got["forecast"] is None
    assert got["replicas"] == got["reactive_replicas"] == 10
    assert "nan@1 failed (BundleError: the forecaster returned NaN" in got["reason"]


def test_a_minute_posted_again_replaces_it_and_old_minutes_are_pruned(
    tenant_a: TenantClient,
) -> None:
    put_series(tenant_a, "web")
    post_load(tenant_a, "web", minutes([10.0, 20.0]))
    again = post_load(tenant_a, "web", minutes([10.0, 300.0]))
    assert again.json()["stored"] == 2
    assert again.json()["recommendation"]["observed"]["calls"] == 300.0
    day_old = minutes([7.0], START - timedelta(days=1))
    pruned = post_load(tenant_a, "web", [*day_old, *minutes([10.0, 30.0])])
    assert pruned.json()["pruned"] == 1  # exactly a day before the newest minute: dropped
    kept = minutes([7.0], START - timedelta(days=1) + timedelta(minutes=2))
    assert post_load(tenant_a, "web", kept).json()["pruned"] == 0  # within the day: kept


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["fix"], error
    return str(error["message"])


@pytest.mark.parametrize(
    ("change", "code", "where"),
    [
        ({"capacity_per_replica": 0}, "invalid_request", "capacity_per_replica"),
        ({"target": 1.5}, "invalid_request", "target"),
        ({"startup_minutes": -1}, "invalid_request", "startup_minutes"),
        ({"cooldown_minutes": 5}, "invalid_request", "cooldown_minutes"),
        ({"min_replicas": 5, "max_replicas": 3}, "invalid_series", "max_replicas 3"),
        ({"startup_minutes": 6, "lookahead_minutes": 6}, "invalid_series", "past the 12"),
        ({"startup_minutes": 12}, "invalid_request", "startup_minutes"),
    ],
)
def test_a_bad_service_is_a_422_naming_the_problem(
    tenant_a: TenantClient, change: dict[str, Any], code: str, where: str
) -> None:
    assert where in _error(put_series(tenant_a, "web", **change), 422, code)
    assert tenant_a.get(BASE).json()["series"] == []  # type: ignore[attr-defined]


def test_bad_names_and_load_are_4xx_with_the_error_shape(tenant_a: TenantClient) -> None:
    _error(put_series(tenant_a, "-bad"), 422, "invalid_request")
    _error(put_series(tenant_a, "bad-"), 422, "invalid_request")  # not a Kubernetes label value
    _error(put_series(tenant_a, "x" * 64), 422, "invalid_request")
    _error(post_load(tenant_a, "ghost", minutes([1.0])), 404, "not_found")
    _error(tenant_a.get(f"{BASE}/ghost/recommendation"), 404, "not_found")
    _error(tenant_a.delete(f"{BASE}/ghost"), 404, "not_found")
    put_series(tenant_a, "web")
    future = minutes(
        [1.0], datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=30)
    )
    cases: list[tuple[Any, str, str]] = [
        ([], "invalid_request", "points"),
        (minutes([-1.0]), "invalid_request", "calls"),
        (minutes([1.0] * 1441), "invalid_request", "points"),
        ([{"minute": "yesterday", "calls": 1}], "invalid_request", "minute"),
        ([{"minute": (START + timedelta(seconds=30)).isoformat(), "calls": 1}], "invalid_load",
         "not the start of a minute"),
        (future, "invalid_load", "in the future"),
        ([*minutes([1.0]), *minutes([2.0])], "invalid_load", "twice"),
    ]  # fmt: skip
    for points, code, where in cases:
        assert where in _error(post_load(tenant_a, "web", points), 422, code)
    nan: Any = tenant_a.post(
        f"{BASE}/web/load",
        content=b'{"points": [{"minute": "2026-11-29T10:00:00Z", "calls": NaN}]}',
        headers={"Content-Type": "application/json"},
    )
    _error(nan, 422, "invalid_request")
    assert recommendation(tenant_a, "web")["observed"] is None  # nothing was stored


def test_past_the_series_limit_a_new_series_is_409(settings: Settings) -> None:
    from apiclient import make_tenant

    limited = settings.model_copy(update={"autoscale_max_series": 2})
    with TestClient(create_app(limited), raise_server_exceptions=False) as client:
        tenant = make_tenant(client, "limited")
        assert put_series(tenant, "a").status_code == 201
        assert put_series(tenant, "b").status_code == 201
        message = _error(put_series(tenant, "c"), 409, "series_limit")
        assert "2 autoscale series" in message
        assert put_series(tenant, "a", max_replicas=9).status_code == 200  # replacing is fine
        tenant.delete(f"{BASE}/b")
        assert put_series(tenant, "c").status_code == 201


def test_tenant_b_cannot_read_change_or_list_tenant_as_series(
    tenant_a: TenantClient, tenant_b: TenantClient, tmp_path: Path
) -> None:
    activate_forecaster(tenant_a, forecast_bundle(tmp_path))
    put_series(tenant_a, "secret")
    post_load(tenant_a, "secret", minutes([40.0] * 12))
    before = recommendation(tenant_a, "secret")
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("get", f"{BASE}/secret", {}),
        ("get", f"{BASE}/secret/recommendation", {}),
        ("post", f"{BASE}/secret/load", {"json": {"points": minutes([9999.0])}}),
        ("delete", f"{BASE}/secret", {}),
    ]
    for method, url, kwargs in attempts:
        response: Any = getattr(tenant_b, method)(url, **kwargs)
        assert response.status_code == 404, (url, response.text)
        absent: Any = getattr(tenant_b, method)(url.replace("secret", "ghost"), **kwargs)
        assert response.text.replace("secret", "ghost") == absent.text  # nothing to infer
    assert tenant_b.get(BASE).json()["series"] == []  # type: ignore[attr-defined]
    # B's PUT of the same name makes B's own series; A's is untouched.
    assert put_series(tenant_b, "secret", capacity_per_replica=1.0).status_code == 201
    post_load(tenant_b, "secret", minutes([5.0] * 12))
    mine = recommendation(tenant_b, "secret")
    assert mine["model"] is None and "no active forecast.load model" in mine["reason"]
    assert mine["observed"]["calls"] == 5.0
    assert recommendation(tenant_a, "secret") == before
    theirs: Any = tenant_a.get(f"{BASE}/secret")
    assert theirs.json()["capacity_per_replica"] == SERVICE["capacity_per_replica"]
    assert [s["name"] for s in tenant_a.get(BASE).json()["series"]] == ["secret"]  # type: ignore[attr-defined]


def _gauge(
    text: str, series_id: str, metric: str = "skyroute_recommended_replicas"
) -> float | None:
    pattern = "^" + metric + r'\{series_id="' + re.escape(series_id) + r'"\} (\S+)$'
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


def test_the_gauge_reports_each_series_newest_recommendation(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient
) -> None:
    mine = put_series(tenant_a, "web").json()["metric"]["labels"]["series_id"]
    theirs = put_series(tenant_b, "web").json()["metric"]["labels"]["series_id"]
    assert mine != theirs
    assert _gauge(client.get("/metrics").text, mine) is None
    post_load(tenant_a, "web", minutes([95.0]))
    post_load(tenant_b, "web", minutes([15.0]))
    text = client.get("/metrics").text
    assert _gauge(text, mine) == 10.0
    assert _gauge(text, theirs) == 2.0
    observed = "skyroute_recommended_replicas_observed_timestamp_seconds"
    assert _gauge(text, mine, observed) == START.timestamp()
    # /metrics is not authenticated: it names no tenant and no series, only random ids
    assert tenant_a.tenant_id not in text and tenant_b.tenant_id not in text
    assert 'series="' not in text and "tenant=" not in text
    replaced = put_series(tenant_a, "web", capacity_per_replica=5.0)  # 95 / 2.5 -> 38
    assert replaced.json()["metric"]["labels"]["series_id"] == mine  # kept on replace
    recommendation(tenant_a, "web")
    assert _gauge(client.get("/metrics").text, mine) == 38.0
    tenant_a.delete(f"{BASE}/web")
    text = client.get("/metrics").text
    assert _gauge(text, mine) is None  # gone with the series
    assert _gauge(text, theirs) == 2.0
