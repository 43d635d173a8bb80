"""A real server under concurrent load: swapping the active version drops no request."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx

from apiclient import ADMIN_TOKEN, LiveServer, decide_body
from bundlemaker import mlp_bundle
from skyroute.bundles import pack_bundle
from skyroute.serve.app import create_app
from skyroute.serve.settings import Settings

REQUESTS_PER_CLIENT = 40


def test_activating_versions_under_load_fails_no_request(
    settings: Settings, tmp_path: Path
) -> None:
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        created = http.post(
            "/api/v1/admin/tenants",
            json={"name": "load"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ).json()
        headers = {"Authorization": f"Bearer {created['api_key']}"}
        for version in ("1", "2"):
            archive = pack_bundle(
                mlp_bundle(tmp_path / f"s{version}", n_in=50, version=version),
                tmp_path / f"s{version}.zip",
            )
            with archive.open("rb") as handle:
                response = http.post(
                    "/api/v1/ml/models/upload",
                    data={"name": "strat", "version": version},
                    files={"file": ("s.zip", handle, "application/zip")},
                    headers=headers,
                )
                assert response.status_code == 201, response.text
        http.post("/api/v1/ml/engines/select", json={"engine_id": "hierarchical"}, headers=headers)
        http.post(
            "/api/v1/ml/models/activate",
            json={"model_id": "strat", "version": "1"},
            headers=headers,
        )

        statuses: Counter[int] = Counter()
        versions: Counter[str] = Counter()
        stop = threading.Event()
        lock = threading.Lock()

        def load(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as own:
                for i in range(REQUESTS_PER_CLIENT):
                    body = {**decide_body(id=f"w{worker}-{i % 7}"), "caller_key": f"{worker}-{i}"}
                    response = own.post("/api/v1/ml/decide", json=body, headers=headers)
                    with lock:
                        statuses[response.status_code] += 1
                        if response.status_code == 200:
                            versions[response.json()["model_versions"]["placement.strategic"]] += 1

        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        flip = 0
        while any(thread.is_alive() for thread in threads):
            version = "2" if flip % 2 == 0 else "1"
            swapped = http.post(
                "/api/v1/ml/models/activate",
                json={"model_id": "strat", "version": version},
                headers=headers,
            )
            assert swapped.status_code == 200
            flip += 1
            stop.wait(0.05)
        for thread in threads:
            thread.join()
    assert flip >= 2, "the activation never changed during the load"
    assert statuses == Counter({200: 4 * REQUESTS_PER_CLIENT}), statuses
    assert set(versions) == {"strat@1", "strat@2"}, versions
