"""Schemathesis over the app's own OpenAPI schema: no input makes the server answer 5xx.

Every operation gets a bounded number of generated requests (valid and invalid ones), sent
with a tenant's API key (the admin token for admin routes) through the real app, on SQLite
and PostgreSQL. Each answer must not be a server error, and every 4xx must carry the API's
error shape ``{"error": {"code", "message", "fix"}}``.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from apiclient import ADMIN_TOKEN, TenantClient, make_tenant
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

#: Operations without input: /metrics is text, and /readyz answers a documented 503 while
#: no engine is active.
UNFUZZED = ("/metrics", "/readyz")
#: Examples per operation and generation mode: ~30 operations × 2 modes × 2 databases stay
#: within about 90 s. The spot-optimize decision prices every pool (about 1 s a call), so it
#: gets fewer.
EXAMPLES = int(os.environ.get("SKYROUTE_FUZZ_EXAMPLES", "20"))  # raise it for a deeper run
FEWER = {"/api/v1/ml/decision/spot-optimize": 3}


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """No background gap filler: the run exercises the API, not the market sources."""
    return Settings(**{**settings.__dict__, "gap_filler_enabled": False})


@pytest.fixture
def fuzzed(quiet_settings: Settings) -> Any:
    with TestClient(create_app(quiet_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def tenant(fuzzed: TestClient) -> TenantClient:
    """A tenant whose decisions go through greedy, so /decide gets past "no engine"."""
    made = make_tenant(fuzzed, "fuzz")
    selected: Any = made.post("/api/v1/ml/engines/select", json={"engine_id": "greedy"})
    assert selected.status_code == 200, selected.text
    return made


def assert_error_shape(response: Any) -> None:
    if 400 <= response.status_code < 500:
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "fix"}, body
        assert all(isinstance(v, str) for v in body["error"].values()), body
        assert body["error"]["code"] and body["error"]["message"], body


def fuzz(operation: Any, mode: GenerationMode, token: str) -> str | None:
    """Run ``operation`` on generated cases; the first failure, described, or None."""

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=FEWER.get(operation.path, EXAMPLES),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case: Any) -> None:
        # It checks answers, not speed (benchmarks do): an unrestricted spot-optimize scores
        # every priced pool and takes seconds on a loaded 2-core machine, past the default 10 s.
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error], timeout=60
        )
        assert_error_shape(response)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:  # no invalid request exists for this operation
        return None
    except (Exception, BaseExceptionGroup) as exc:  # report every failing operation
        return f"{operation.method.upper()} {operation.path} ({mode}): {exc}"
    return None


def undocumented(openapi: dict[str, Any]) -> list[str]:
    """Routes (but /metrics and file downloads) that do not declare the JSON they answer."""
    missing = []
    for path, methods in openapi["paths"].items():
        if path == "/metrics" or path.endswith("/download"):
            continue
        for method, operation in methods.items():
            success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            if not success.get("content", {}).get("application/json", {}).get("schema"):
                missing.append(f"{method.upper()} {path}")
    return missing


def test_no_input_makes_a_server_error(fuzzed: TestClient, tenant: TenantClient) -> None:
    assert undocumented(fuzzed.get("/openapi.json").json()) == []
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in UNFUZZED:
            continue
        token = ADMIN_TOKEN if operation.path.startswith("/api/v1/admin") else tenant.key
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = fuzz(operation, mode, token)
            if failure:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)
