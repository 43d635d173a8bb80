"""``/route`` with the raw request (the Lambda handler's), through the same feature builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apiclient import TenantClient, upload_and_activate
from bundlemaker import SEED_REQUEST as SEED
from bundlemaker import memory_router_bundle
from skyroute.bundles import pack_bundle
from skyroute.bundles.router_request import FEATURES, features_for


@pytest.fixture
def routed(tenant_a: TenantClient, tmp_path: Path) -> TenantClient:
    archive = pack_bundle(memory_router_bundle(tmp_path / "router"), tmp_path / "router.zip")
    upload_and_activate(tenant_a, archive, "router")
    return tenant_a


def route(client: TenantClient, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/ml/route", json=body)


def test_the_raw_request_is_routed_by_its_derived_features(routed: TenantClient) -> None:
    light: Any = route(routed, SEED)
    assert light.status_code == 200, light.text
    assert light.json()["platform"] == "function" and not light.json()["fallback"]
    heavy: Any = route(routed, {**SEED, "workload_type": "heavy_processing"})
    assert heavy.json()["platform"] == "container"
    assert heavy.json()["p_container"] == pytest.approx(0.25 * 3.4874 - 0.2, abs=1e-3)
    # The same answer as the features the builder derives, sent by name.
    by_name = dict(zip(FEATURES, map(float, features_for(SEED)), strict=True))
    sent: Any = route(routed, {"features": by_name})
    assert sent.json()["p_container"] == pytest.approx(light.json()["p_container"], abs=1e-6)


def test_a_function_profile_is_routed_too(routed: TenantClient) -> None:
    body = {
        "profile": {"memory_mb": 4096, "duration_ms": 900, "calls_per_minute": 2},
        "timestamp": 1_764_417_600,
    }
    answer: Any = route(routed, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["platform"] == "container"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({k: v for k, v in SEED.items() if k != "load_pattern"}, ["load_pattern", "missing"]),
        ({**SEED, "workload_type": "gpu_training"}, ["workload_type"]),
        ({**SEED, "payload_size_kb": "big"}, ["payload_size_kb"]),
        ({**SEED, "features": {"hour_sin": 0.0}}, ["either features or the raw request"]),
        ({}, ["send features, or workload_type"]),
        ({"profile": {"memory_mb": 128}, "timestamp": 0}, ["profile", "duration_ms"]),
    ],
)
def test_bad_raw_requests_are_422_naming_the_field(
    routed: TenantClient, body: dict[str, Any], words: list[str]
) -> None:
    answer: Any = route(routed, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and error["fix"], error
    text = error["message"] + error["fix"]
    assert all(w in text for w in words), error
