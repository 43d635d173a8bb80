"""Bad values are 422 ``invalid_request`` naming the field, on SQLite and PostgreSQL alike.

PostgreSQL refuses NUL bytes in text and ``Infinity``/``NaN`` in JSON, and checks column
lengths; SQLite stores all of them. Both must answer the same: refused before any query.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apiclient import TenantClient, decide_body, upload_and_activate
from skyroute.bundles import pack_bundle, write_bundle
from skyroute.serve.settings import Settings

FEATURES = ["a", "b", "c", "d"]


def raw_post(tenant: TenantClient, path: str, text: str) -> Any:
    """POST JSON text as is (``Infinity`` and ``NaN`` literals, which Starlette parses)."""
    return tenant.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


def assert_invalid(response: Any, *words: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request", error
    for word in words:
        assert word in error["message"], error


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/v1/ml/decide", decide_body(id="fn\x00"), ("function.id", "NUL")),
        ("/api/v1/ml/decide", {**decide_body(), "caller_key": "k\x00"}, ("caller_key", "NUL")),
        (
            "/api/v1/ml/engines/select",
            {"engine_id": "greedy", "config": {"deep": [{"secret": "s\x00"}]}},
            ("config", "deep[0].secret contains a NUL byte"),
        ),
        (
            "/api/v1/ml/engines/select",
            {"engine_id": "greedy", "config": {"k\x00": 1}},
            ("config", "NUL"),
        ),
        ("/api/v1/ml/models/activate", {"model_id": "m", "version": "v" * 51}, ("version",)),
        ("/api/v1/ml/engines/select", {"engine_id": "e" * 101}, ("engine_id",)),
        (
            "/api/v1/ml/predict/spot-interruption",
            {"instance_type": "m5.large", "region": "us-east-1", "launch_time": "0001-01-01T00:00"},
            ("launch_time", "2000-01-01"),
        ),
        (
            "/api/v1/ml/route",
            {"features": {"a\x00": 1.0}},
            ("features", "NUL"),
        ),
        ("/api/v1/ml/gap-filler/analyze", {"model_id": "m\x00"}, ("model_id", "NUL")),
        (
            "/api/v1/ml/gap-filler/analyze",
            {"trained_until": "9999-12-31"},
            ("trained_until", "2100-01-01"),
        ),
        ("/api/v1/ml/gap-filler/fill", {"regions": ["r" * 41]}, ("regions.0",)),
    ],
)
def test_nul_bytes_and_overlong_values_are_422(
    tenant_a: TenantClient, path: str, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    assert_invalid(tenant_a.post(path, json=body), *words)


@pytest.mark.parametrize(
    ("path", "text", "words"),
    [
        (
            "/api/v1/ml/decide",
            json.dumps({**decide_body(), "objective": {"cost": 1.0}}).replace("1.0", "Infinity"),
            ("objective.cost", "finite"),
        ),
        (
            "/api/v1/ml/decide",
            json.dumps({**decide_body(), "constraints": {"max_cost": 1.0}}).replace("1.0", "NaN"),
            ("constraints.max_cost", "finite"),
        ),
        (
            "/api/v1/ml/engines/select",
            '{"engine_id": "greedy", "config": {"a": {"b": [1, -Infinity]}}}',
            ("config", "a.b[1] is -inf, not a finite number"),
        ),
        (
            "/api/v1/ml/decision/spot-optimize",
            '{"cluster_id": "c", "requirements": {"vcpu": NaN, "memory_gib": 1, "node_count": 1}}',
            ("requirements.vcpu", "finite"),
        ),
    ],
)
def test_infinity_and_nan_are_422_in_typed_and_free_form_fields(
    tenant_a: TenantClient, path: str, text: str, words: tuple[str, ...]
) -> None:
    assert_invalid(raw_post(tenant_a, path, text), *words)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/ml/spot/history", -1),
        ("/api/v1/ml/spot/history", 0),
        ("/api/v1/ml/spot/history", 10**30),
        ("/api/v1/ml/gap-filler/history", -5),
        ("/api/v1/ml/gap-filler/history", 501),
    ],
)
def test_out_of_range_limits_are_422(tenant_a: TenantClient, path: str, limit: int) -> None:
    assert_invalid(tenant_a.get(path, params={"limit": limit}), "limit")


def test_nothing_is_stored_from_a_refused_engine_config(tenant_a: TenantClient) -> None:
    refused = raw_post(
        tenant_a, "/api/v1/ml/engines/select", '{"engine_id": "rules", "config": {"x": NaN}}'
    )
    assert_invalid(refused, "config", "x is nan")
    listed: Any = tenant_a.get("/api/v1/ml/engines/list")
    assert [e["engine_id"] for e in listed.json() if e["selected"]] == ["greedy"]


def router_zip(tmp_path: Path, name: str, bias: list[float]) -> Path:
    """A router.platform MLP whose last output is ``bias[-1]`` whatever the features."""
    from safetensors.numpy import save_file

    model = tmp_path / f"{name}.safetensors"
    save_file(
        {
            "layers.0.weight": np.zeros((2, len(FEATURES)), dtype=np.float32),
            "layers.0.bias": np.asarray(bias, dtype=np.float32),
        },
        str(model),
    )
    write_bundle(
        tmp_path / name, name=name, version="1", kind="router.platform", format="safetensors",
        trained_until="2026-10-31", model_file=model, features=FEATURES,
        inputs=[{"name": "x", "shape": [-1, 4]}], outputs=[{"name": "y", "shape": [-1, 2]}],
    )  # fmt: skip
    return pack_bundle(tmp_path / name, tmp_path / f"{name}.zip")


def route_with(
    tenant: TenantClient, archive: Path, before: Callable[[], None] = lambda: None
) -> Any:
    upload_and_activate(tenant, archive, "router")
    before()
    return tenant.post("/api/v1/ml/route", json={"features": dict.fromkeys(FEATURES, 0.5)})


@pytest.mark.parametrize(
    ("bias", "reason"),
    [
        ([0.0, 22.5], "the model answered 22.5, not a probability in [0, 1]"),
        ([0.0, -0.5], "the model answered -0.5, not a probability in [0, 1]"),
        ([0.0, float("nan")], "the model answered nan"),
    ],
)
def test_a_router_answer_that_is_not_a_probability_is_a_flagged_fallback(
    tenant_a: TenantClient, tmp_path: Path, bias: list[float], reason: str
) -> None:
    routed = route_with(tenant_a, router_zip(tmp_path, "router", bias))
    assert_fallback(routed, reason)


def test_a_failing_router_model_is_a_flagged_fallback(
    tenant_a: TenantClient, tmp_path: Path, settings: Settings
) -> None:
    def corrupt() -> None:
        stored = settings.model_upload_dir / tenant_a.tenant_id / "router" / "1"
        for model in stored.glob("*/*.safetensors"):  # in the upload's folder, named by row id
            model.write_bytes(b"not a model any more")

    routed = route_with(tenant_a, router_zip(tmp_path, "router", [0.0, 0.2]), corrupt)
    assert_fallback(routed, "the model failed: BundleError")


def assert_fallback(routed: Any, reason: str) -> None:
    assert routed.status_code == 200, routed.text
    body = routed.json()
    assert body["fallback"] is True and reason in body["fallback_reason"], body
    assert body["platform"] == "function" and body["p_container"] is None
    assert body["confidence"] == 0.0 and body["model_version"] == "router@1"


def test_a_router_probability_is_served_unflagged(tenant_a: TenantClient, tmp_path: Path) -> None:
    routed = route_with(tenant_a, router_zip(tmp_path, "router", [0.0, 0.8]))
    body = routed.json()
    assert body["fallback"] is False and body["fallback_reason"] is None
    assert body["platform"] == "container" and body["p_container"] == pytest.approx(0.8)


NOT_A_PLAN = """
NAME = "not-a-plan"
VERSION = "1"
DESCRIPTION = "answers something that is not a spot plan"
INPUT_SCHEMA = {"type": "object"}
OUTPUT_SCHEMA = {"type": "object"}

def decide(request, config):
    return {"recommendations": [{"count": -1}], "estimated_savings": {}}
"""


def test_a_spot_engine_answer_that_is_not_a_plan_falls_back(tenant_a: TenantClient) -> None:
    created: Any = tenant_a.post(
        "/api/v1/ml/engines/upload",
        files={"file": ("engine.py", io.BytesIO(NOT_A_PLAN.encode()), "text/x-python")},
    )
    assert created.status_code == 201, created.text
    tenant_a.post(
        "/api/v1/ml/engines/select",
        json={"engine_id": created.json()["engine_id"], "purpose": "spot-optimize"},
    )
    body = {
        "cluster_id": "c1",
        "requirements": {"vcpu": 2, "memory_gib": 4, "node_count": 3},
        "constraints": {"regions": ["us-east-1"]},
    }
    answer: Any = tenant_a.post("/api/v1/ml/decision/spot-optimize", json=body)
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert plan["fallback"] is True and "not a spot plan" in plan["fallback_reason"]
    assert plan["engine"] == "spot-optimize" and plan["feasible"] is True


def test_a_value_the_database_refuses_is_a_422_not_a_500(
    tenant_a: TenantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence, for a value the request models let through."""
    from sqlalchemy.exc import DataError

    from skyroute.serve import model_registry

    def refuse(*_: Any) -> None:
        raise DataError("SELECT 1", {}, ValueError("value too long for type character(50)"))

    monkeypatch.setattr(model_registry, "versions_of", refuse)
    response: Any = tenant_a.get("/api/v1/ml/models/some-model")
    assert_invalid(response, "value too long")
