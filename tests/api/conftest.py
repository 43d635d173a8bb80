"""The real app on SQLite and on the PostgreSQL at 127.0.0.1:5432 (a fresh database per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from apiclient import ADMIN_TOKEN, TenantClient, make_tenant
from pgtemp import fresh_database
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'skyroute.db'}"
        return
    with fresh_database("skyroute") as name:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_upload_dir=tmp_path / "models",
        engine_dir=tmp_path / "engines",
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.app.state.skyroute.world_build.get()  # built in the background: wait
        yield test_client


@pytest.fixture
def tenant_a(client: TestClient) -> TenantClient:
    return make_tenant(client, "alpha")


@pytest.fixture
def tenant_b(client: TestClient) -> TenantClient:
    return make_tenant(client, "beta")
