"""The gap filler and spot predictions through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apiclient import TenantClient
from bundlemaker import spot_model_zip
from skyroute.serve.settings import Settings

TODAY = datetime.now(UTC).date()
RECENT = (TODAY - timedelta(days=5)).isoformat()


def _upload_and_activate(tenant: TenantClient, archive: Path) -> None:
    with archive.open("rb") as handle:
        response: Any = tenant.post(
            "/api/v1/ml/models/upload",
            data={"name": "spot", "version": "1"},
            files={"file": (archive.name, handle, "application/zip")},
        )
    assert response.status_code == 201, response.text
    activated: Any = tenant.post(
        "/api/v1/ml/models/activate", json={"model_id": "spot", "version": "1"}
    )
    assert activated.status_code == 200, activated.text


def _wait(tenant: TenantClient, task_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: Any = tenant.get(f"/api/v1/ml/gap-filler/status/{task_id}")
        assert status.status_code == 200, status.text
        body: dict[str, Any] = status.json()
        if body["status"] != "in_progress":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def _without_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


PREDICT = {"instance_type": "m5.large", "region": "us-east-1", "spot_price": 0.04}
SERIES = {"instance_types": ["m5.large"], "regions": ["us-east-1"]}


def test_a_model_trained_60_days_ago_is_fresh_today_after_analyze_and_fill(
    client: TestClient, tenant_a: TenantClient, tenant_b: TenantClient, tmp_path: Path
) -> None:
    trained_until = (TODAY - timedelta(days=60)).isoformat()
    _upload_and_activate(tenant_a, spot_model_zip(tmp_path, trained_until))

    before: Any = tenant_a.post("/api/v1/ml/predict/spot-interruption", json=PREDICT)
    assert before.status_code == 200, before.text
    assert before.json()["method"] == "model"
    assert before.json()["data_fresh_until"] < trained_until

    gap: Any = tenant_a.post("/api/v1/ml/gap-filler/analyze", json={"model_id": "spot", **SERIES})
    assert gap.status_code == 200, gap.text
    report = gap.json()
    assert report["trained_until"] == trained_until and report["gap_days"] == 60
    assert report["current_date"] == TODAY.isoformat()
    assert report["required_data_types"] == ["spot_price", "ondemand_price"]
    assert {row["coverage"] for row in report["coverage"]} == {0.0}

    queued: Any = tenant_a.post("/api/v1/ml/gap-filler/fill", json={"model_id": "spot", **SERIES})
    assert queued.status_code == 202, queued.text
    task_id = queued.json()["task_id"]
    done = _wait(tenant_a, task_id)
    assert done["status"] == "completed" and done["percent_complete"] == 100.0
    assert done["records_filled"] > 60 * 24 and done["eta_seconds"] == 0.0

    after: Any = tenant_a.post("/api/v1/ml/predict/spot-interruption", json=PREDICT)
    answer = after.json()
    assert answer["data_fresh_until"] == TODAY.isoformat()
    assert answer["synthetic"] is True  # no AWS credentials here: the labelled extension
    assert answer["history_hours"] == 168 and 0.0 <= answer["interruption_probability"] <= 1.0
    assert answer["confidence"] > before.json()["confidence"]
    metrics = client.get("/metrics").text
    assert f'skyroute_gapfill_chunks_total{{status="done"}} {done["chunks_total"]}.0' in metrics
    rows = f'skyroute_gapfill_rows_total{{source="synthetic"}} {done["records_filled"]}.0'
    assert rows in metrics
    assert 'skyroute_spot_predictions_total{method="model"} 2.0' in metrics

    again: Any = tenant_a.post("/api/v1/ml/gap-filler/analyze", json={"model_id": "spot", **SERIES})
    assert min(row["coverage"] for row in again.json()["coverage"]) > 0.95
    history: Any = tenant_a.get("/api/v1/ml/gap-filler/history")
    assert [job["task_id"] for job in history.json()] == [task_id]
    series: Any = tenant_a.get(
        "/api/v1/ml/spot/history", params={"instance_type": "m5.large", "region": "us-east-1"}
    )
    assert len(series.json()) == 2  # both predictions, kept for plots

    # Another tenant sees neither the job nor the predictions.
    hidden: Any = tenant_b.get(f"/api/v1/ml/gap-filler/status/{task_id}")
    assert hidden.status_code == 422 and hidden.json()["error"]["code"] == "unknown_name"
    assert tenant_b.get("/api/v1/ml/gap-filler/history").json() == []  # type: ignore[attr-defined]
    assert tenant_b.get("/api/v1/ml/spot/history").json() == []  # type: ignore[attr-defined]


def test_without_a_model_the_advisor_bucket_answers_and_says_so(tenant_a: TenantClient) -> None:
    response: Any = tenant_a.post("/api/v1/ml/predict/spot-interruption", json=PREDICT)
    body = response.json()
    assert body["method"].startswith("advisor-bucket") and body["model_version"] is None
    assert 0.0 < body["interruption_probability"] < 0.25


@pytest.mark.parametrize(
    ("path", "payload", "status", "message"),
    [
        ("/predict/spot-interruption", {**PREDICT, "instance_type": "m5.lage"}, 422, "m5.large"),
        ("/predict/spot-interruption", {**PREDICT, "region": "us-east-7"}, 422, "did you mean"),
        ("/gap-filler/fill", {**SERIES, "start": "2020-01-01"}, 422, "above the cap of 90"),
        ("/gap-filler/fill", {**SERIES, "start": RECENT, "source": "aws"}, 422, "AWS_"),
        ("/gap-filler/fill", {"regions": ["mars-1"], "start": "2026-11-01"}, 422, "mars-1"),
        ("/gap-filler/analyze", SERIES, 422, "trained_until"),
        ("/gap-filler/analyze", {"model_id": "nope"}, 409, "no active version"),
    ],
)
def test_bad_requests_get_a_clear_error_and_queue_nothing(
    tenant_a: TenantClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    path: str,
    payload: dict[str, Any],
    status: int,
    message: str,
) -> None:
    _without_aws_credentials(monkeypatch, tmp_path)
    response: Any = tenant_a.post(f"/api/v1/ml{path}", json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error["message"] + error["fix"]
    assert tenant_a.get("/api/v1/ml/gap-filler/history").json() == []  # type: ignore[attr-defined]


def test_aws_without_credentials_falls_back_only_when_asked(
    tenant_a: TenantClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _without_aws_credentials(monkeypatch, tmp_path)
    start = (TODAY - timedelta(days=2)).isoformat()
    body = {
        **SERIES,
        "start": start,
        "source": "aws",
        "fallback": True,
        "data_types": ["spot_price"],
    }
    queued: Any = tenant_a.post("/api/v1/ml/gap-filler/fill", json=body)
    assert queued.status_code == 202, queued.text
    done = _wait(tenant_a, queued.json()["task_id"])
    assert done["status"] == "completed" and done["records_filled"] > 0
    answer: Any = tenant_a.post("/api/v1/ml/predict/spot-interruption", json=PREDICT)
    assert answer.json()["synthetic"] is True


def test_run_on_startup_queues_and_fills_an_operator_job(settings: Settings) -> None:
    from sqlalchemy import select

    from skyroute.gapfill.tables import GapFillJob
    from skyroute.serve.app import create_app

    startup = settings.model_copy(
        update={
            "gap_filler_run_on_startup": True,
            "gap_filler_instance_types": ("m5.large",),
            "gap_filler_regions": ("us-east-1",),
        }
    )
    app = create_app(startup)
    with TestClient(app):
        sessions = app.state.skyroute.sessions
        deadline = time.monotonic() + 60
        while True:
            with sessions() as session:
                job = session.scalars(select(GapFillJob)).one()
            if job.status != "in_progress" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert job.tenant_id is None and job.status == "completed"
    assert job.request["start"] == (TODAY - timedelta(days=7)).isoformat()
    assert job.records_filled > 0
