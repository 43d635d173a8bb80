"""Uploads of one version at once give one 201 and 409s; a refused upload leaves nothing."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apiclient import TenantClient
from bundlemaker import mlp_bundle
from skyroute.bundles import pack_bundle
from skyroute.serve import uploads
from skyroute.serve.settings import Settings

RACERS = 4


def upload(tenant: TenantClient, archive: Path, name: str, version: str, **form: str) -> Any:
    with archive.open("rb") as handle:
        return tenant.post(
            "/api/v1/ml/models/upload",
            data={"name": name, "version": version, **form},
            files={"file": (archive.name, handle, "application/zip")},
        )


def leftovers(settings: Settings) -> list[str]:
    """Everything under the upload folder except the (empty) staging folder itself."""
    root = settings.model_upload_dir
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p != root / uploads.STAGING)


def test_concurrent_uploads_of_one_version_give_one_201_and_409s(
    tenant_a: TenantClient, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = pack_bundle(mlp_bundle(tmp_path / "s", n_in=50), tmp_path / "s.zip")
    # Every racer passes the "exists?" check and verifies its copy before any of them
    # publishes: the rename (and the database) must decide, not the early check.
    gate = threading.Barrier(RACERS, timeout=60)
    publish = uploads._publish

    def racing_publish(*args: Any) -> None:
        gate.wait()
        publish(*args)

    monkeypatch.setattr(uploads, "_publish", racing_publish)
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    lock = threading.Lock()

    def race() -> None:
        response = upload(tenant_a, archive, "strat", "1")
        with lock:
            statuses[response.status_code] += 1
            if response.status_code != 201:
                codes[response.json()["error"]["code"]] += 1

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == Counter({201: 1, 409: RACERS - 1}), statuses
    assert codes == Counter({"conflict": RACERS - 1})
    rows = tenant_a.get("/api/v1/ml/models/list").json()  # type: ignore[attr-defined]
    assert [(r["model_id"], r["version"]) for r in rows] == [("strat", "1")]
    version = settings.model_upload_dir / tenant_a.tenant_id / "strat" / "1"
    (stored,) = version.iterdir()  # the winner's folder, named by its row id; no loser's
    assert (stored / "bundle.json").exists()
    assert leftovers(settings) == sorted(
        str(p.relative_to(settings.model_upload_dir))
        for p in [version.parent.parent, version.parent, *version.parent.rglob("*")]
    )
    assert not any((settings.model_upload_dir / uploads.STAGING).iterdir())


def test_refused_uploads_leave_no_file_folder_or_row(
    client: TestClient, tenant_a: TenantClient, tmp_path: Path, settings: Settings
) -> None:
    good = pack_bundle(mlp_bundle(tmp_path / "s", n_in=50), tmp_path / "s.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:200])
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"plain text")
    cases: list[tuple[Path, str, str, dict[str, str], str]] = [
        (truncated, "m1", "1", {}, "bundle_invalid"),
        (not_zip, "m2", "1", {}, "bundle_invalid"),
        (good, "m3", "1", {"trained_until": "2025-01-01"}, "bundle_invalid"),
        (good, "m4", "1", {"trained_until": "yesterday"}, "invalid_request"),
        (good, "..", "1", {}, "invalid_name"),
        (good, "m5", "v" * 51, {}, "invalid_request"),
    ]
    for archive, name, version, form, code in cases:
        response = upload(tenant_a, archive, name, version, **form)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code, response.text
    assert leftovers(settings) == []
    assert tenant_a.get("/api/v1/ml/models/list").json() == []  # type: ignore[attr-defined]
    # The version the loser tried is still free, and a second upload of it is a 409.
    assert upload(tenant_a, good, "m1", "1").status_code == 201
    again = upload(tenant_a, good, "m1", "1")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    models = {Path(p).parts[1] for p in leftovers(settings) if len(Path(p).parts) > 1}
    assert models == {"m1"}
