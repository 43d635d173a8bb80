"""Uploading a champion's bundle to a running SkyRoute server (the real app under uvicorn)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from apiclient import http_tenant
from bundlemaker import mlp_bundle
from skyroute.experiments.promote import PromotionError, upload_to_server


def listed(url: str, key: str) -> list[dict[str, object]]:
    response = httpx.get(f"{url}/api/v1/ml/models/list", headers={"Authorization": f"Bearer {key}"})
    rows: list[dict[str, object]] = response.json()
    return rows


def test_upload_stores_and_activates_the_bundle(server: str, tmp_path: Path) -> None:
    key = http_tenant(server, "sweeps")
    bundle = mlp_bundle(tmp_path / "champion", n_in=50)
    uploaded = upload_to_server(bundle, server, key, "burst", "7")
    assert (uploaded["model_id"], uploaded["version"]) == ("burst", "7")
    assert uploaded["kind"] == "placement.strategic" and uploaded["unsafe"] is False
    [row] = listed(server, key)
    assert (row["model_id"], row["version"], row["active"], row["weight"]) == (
        "burst",
        "7",
        True,
        1.0,
    )

    upload_to_server(
        mlp_bundle(tmp_path / "next", n_in=50, seed=1), server, key, "burst", "8", activate=False
    )
    active = {r["version"]: r["active"] for r in listed(server, key)}
    assert active == {"7": True, "8": False}


def test_failures_are_one_clear_line(server: str, tmp_path: Path) -> None:
    bundle = mlp_bundle(tmp_path / "champion", n_in=50)
    with pytest.raises(PromotionError, match=r"refused the API key \(401\)") as refused:
        upload_to_server(bundle, server, "not-a-key", "burst", "1")
    assert "\n" not in str(refused.value) and "to fix: pass a valid tenant API key" in str(
        refused.value
    )

    key = http_tenant(server, "sweeps")
    upload_to_server(bundle, server, key, "burst", "1")
    with pytest.raises(
        PromotionError, match=r"model upload refused by .* \(409\): burst 1 exists"
    ) as conflict:
        upload_to_server(bundle, server, key, "burst", "1")
    assert "\n" not in str(conflict.value)

    with socket.socket() as closed:  # a port nobody listens on once this closes
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with pytest.raises(PromotionError, match="cannot reach the SkyRoute server at"):
        upload_to_server(bundle, nobody, key, "burst", "2")


def test_an_invalid_bundle_is_not_sent(server: str, tmp_path: Path) -> None:
    key = http_tenant(server, "sweeps")
    bundle = mlp_bundle(tmp_path / "champion", n_in=50)
    (bundle / "bundle.json").write_text("{}")
    with pytest.raises(PromotionError, match="is not a valid bundle"):
        upload_to_server(bundle, server, key, "burst", "1")
    assert listed(server, key) == []
