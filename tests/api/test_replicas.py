"""Two replicas on one database, each with its own disk (as Kubernetes pods with emptyDirs):
a model uploaded to one is served, downloaded and replaced through the other."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete

from apiclient import TenantClient, make_tenant, upload_and_activate
from bundlemaker import memory_router_bundle
from skyroute.bundles import pack_bundle
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings
from skyroute.serve.tables import ModelArchive

HEAVY = {
    "workload_type": "heavy_processing",  # P(container) 0.67 under memory_router_bundle
    "payload_size_kb": 10,
    "time_window": "business_hours",
    "load_pattern": "medium",
    "timestamp": "2026-11-29T14:30:00Z",
}


@pytest.fixture
def replicas(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    other = settings.model_copy(
        update={
            "data_dir": tmp_path / "b-data",
            "model_upload_dir": tmp_path / "b-models",
            "engine_dir": tmp_path / "b-engines",
        }
    )
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as a,
        TestClient(create_app(other), raise_server_exceptions=False) as b,
    ):
        for client in (a, b):
            client.app.state.skyroute.world_build.get()  # type: ignore[attr-defined]
        yield a, b


def _as(client: TestClient, tenant: TenantClient) -> TenantClient:
    return TenantClient(client, tenant.tenant_id, tenant.key)


def _upload(tenant: TenantClient, tmp_path: Path, threshold: float) -> None:
    folder = tmp_path / f"router-{threshold}"
    archive = pack_bundle(memory_router_bundle(folder, threshold), tmp_path / f"{threshold}.zip")
    upload_and_activate(tenant, archive, "router")


def _route(tenant: TenantClient) -> dict[str, Any]:
    answer: Any = tenant.post("/api/v1/ml/route", json=HEAVY)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _files(tenant: TenantClient) -> dict[str, bytes]:
    got: Any = tenant.get("/api/v1/ml/models/router/download", params={"version": "1"})
    assert got.status_code == 200, got.text
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_an_upload_to_one_replica_is_served_by_the_other(
    replicas: tuple[TestClient, TestClient], settings: Settings, tmp_path: Path
) -> None:
    a, b = replicas
    on_a = make_tenant(a, "alpha")
    on_b = _as(b, on_a)
    _upload(on_a, tmp_path, threshold=0.5)
    assert not (tmp_path / "b-models").exists() or not any((tmp_path / "b-models").rglob("*.json"))
    served = _route(on_b)
    assert served["platform"] == "container" and not served["fallback"]
    assert served["p_container"] == pytest.approx(_route(on_a)["p_container"])
    assert any((tmp_path / "b-models" / on_a.tenant_id).rglob("bundle.json"))  # unpacked on b
    assert _files(on_b) == _files(on_a)


def test_a_version_replaced_through_one_replica_is_never_served_stale_by_the_other(
    replicas: tuple[TestClient, TestClient], tmp_path: Path
) -> None:
    a, b = replicas
    on_a = make_tenant(a, "alpha")
    on_b = _as(b, on_a)
    _upload(on_a, tmp_path, threshold=0.5)
    assert _route(on_a)["platform"] == "container"
    gone: Any = on_b.delete("/api/v1/ml/models/router", params={"version": "1"})
    assert gone.status_code == 200, gone.text
    _upload(on_b, tmp_path, threshold=0.9)  # the same name and version, another bundle
    # a still holds the first upload's folder; the new row is served from the database's copy
    assert _route(on_a)["platform"] == "function"
    assert _route(on_b)["platform"] == "function"


def test_a_version_without_an_archive_falls_back_on_the_replica_that_lacks_it(
    replicas: tuple[TestClient, TestClient], settings: Settings, tmp_path: Path
) -> None:
    a, b = replicas
    on_a = make_tenant(a, "alpha")
    _upload(on_a, tmp_path, threshold=0.5)
    engine = create_engine(settings.db_url)
    with engine.begin() as conn:  # as a version uploaded before archives were kept
        conn.execute(delete(ModelArchive))
    engine.dispose()
    assert not _route(on_a)["fallback"]  # its own disk has it
    lacking = _route(_as(b, on_a))
    assert lacking["fallback"] and "ArchiveMissing" in lacking["fallback_reason"]
    missing: Any = _as(b, on_a).get("/api/v1/ml/models/router/download", params={"version": "1"})
    assert missing.status_code == 404 and set(missing.json()["error"]) == {"code", "message", "fix"}
