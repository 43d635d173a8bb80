"""Every page of the dashboard walked through its main flow in Chromium, with real data."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from bundlemaker import mlp_bundle, profile_reference, profile_sample, spot_model_zip
from conftest import Server, decide_many, sign_in
from skyroute.bundles import pack_bundle

ENGINE = """
NAME = "eu-only"
VERSION = "1"
DESCRIPTION = "Every call to GCP europe-west1 (an operator's rule)."
INPUT_SCHEMA = {"type": "object", "required": ["function"]}
OUTPUT_SCHEMA = {"type": "object", "required": ["provider", "region", "memory_mb"]}

def decide(request, config):
    return {"provider": "gcp", "region": "europe-west1", "memory_mb": 512,
            "platform": "function", "purchase": "on-demand", "explanation": "EU only"}
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A router trained on a small synthetic trace (real metrics and feature importance),
    two versions of a strategic placement layer, and a spot model trained 120 days ago."""
    from skyroute.learn.config import RouterConfig
    from skyroute.learn.router_pipeline import train_router

    out = tmp_path_factory.mktemp("bundles")
    config = RouterConfig(
        trace="synthetic:functions=40,days=1,seed=0", max_rows=1500, families=("lightgbm",)
    )
    train_router(config, out / "router-run")
    trained = (datetime.now(UTC).date() - timedelta(days=120)).isoformat()
    return {
        "router": pack_bundle(out / "router-run" / "router", out / "router.zip"),
        "strategic-1": pack_bundle(
            mlp_bundle(out / "s1", n_in=50, version="1", reference=profile_reference()),
            out / "s1.zip",
        ),
        "strategic-2": pack_bundle(
            mlp_bundle(out / "s2", n_in=50, version="2", seed=1), out / "s2.zip"
        ),
        "spot": spot_model_zip(out, trained),
    }


@pytest.fixture(scope="module")
def seeded(server: Server, bundles: dict[str, Path]) -> Server:
    """What an operator's first day leaves: models, decisions with their actuals."""
    for name, version, path in (
        ("placement", "1", bundles["strategic-1"]),
        ("placement", "2", bundles["strategic-2"]),
        ("spot", "1", bundles["spot"]),
    ):
        with path.open("rb") as handle:
            server.api(
                "POST", "/models/upload", files={"file": (path.name, handle)},
                data={"name": name, "version": version},
            )  # fmt: skip
    server.api("POST", "/models/activate", json={"model_id": "spot", "version": "1"})
    answers = decide_many(server, 60)
    rng = random.Random(0)
    actuals = [
        {
            "decision_id": a["decision_id"],
            "cost_usd": a["expected"]["cost_usd"] * rng.uniform(0.9, 1.3),
            "latency_ms": a["expected"]["latency_ms"] * rng.uniform(0.8, 1.6),
            "cold_start": rng.random() < 0.2,
        }
        for a in answers
    ]
    server.api("POST", "/actuals", json={"actuals": actuals})
    decide_many(server, 5, key=server.other_key)  # another tenant's: never on this dashboard
    fill_and_predict(server, rng)
    drift_alert(server)
    return server


def drift_alert(server: Server) -> None:
    """The hierarchical engine on placement 1 (whose bundle carries its training reference):
    a window of inputs like the training ones, then a window three times larger."""
    server.api("POST", "/models/activate", json={"model_id": "placement", "version": "1"})
    server.api("POST", "/engines/select", json={"engine_id": "hierarchical"})
    for seed, shift in ((1, 1.0), (2, 3.0)):
        profiles = profile_sample(50, seed=seed, shift=shift)
        requests = [
            {"function": {"id": f"etl-{k % 5}", "origin": "aws:us-east-1",
                          **{name: float(values[k]) for name, values in profiles.items()}}}
            for k in range(50)
        ]  # fmt: skip
        server.api("POST", "/decide/batch", json={"requests": requests})
    deadline = time.monotonic() + 60
    while not server.api("GET", "/drift/alerts?kind=input")["alerts"]:
        assert time.monotonic() < deadline, "no drift alert"
        time.sleep(0.25)
    server.api("POST", "/engines/select", json={"engine_id": "greedy"})


def fill_and_predict(server: Server, rng: random.Random) -> None:
    """Fill the spot model's last 90 days; its series then get live predictions (every 2 s
    here), some of which get posted actuals."""
    series = {"model_id": "spot", "instance_types": ["m5.large"], "regions": ["us-east-1"]}
    task = server.api("POST", "/gap-filler/fill", json=series | {"source": "synthetic"})
    deadline = time.monotonic() + 120
    while server.api("GET", f"/gap-filler/status/{task['task_id']}")["status"] != "completed":
        assert time.monotonic() < deadline, "the fill did not finish"
        time.sleep(0.2)
    for _ in range(3):
        server.api("POST", "/predictions/run")
        time.sleep(1.0)
    points = server.api("GET", "/predictions/series?kind=interruption")["series"][0]["points"]
    server.api(
        "POST", "/actuals",
        json={"actuals": [
            {"prediction_id": p["prediction_id"], "interrupted": rng.random() < p["predicted"]}
            for p in points
        ]},
    )  # fmt: skip


def shot(page: Any, folder: Path, name: str) -> None:
    expect(page.locator(".toast")).to_have_count(0, timeout=5000)  # notices fade in 3 s
    page.wait_for_timeout(300)  # charts draw on the next frame
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_sign_in_refuses_a_wrong_key_and_keeps_a_good_one(
    page: Any, server: Server, screenshots: Path
) -> None:
    page.fill("input[name=api_key]", "sk_not-a-key")
    page.click("button[type=submit]")
    alert = page.wait_for_selector("[role=alert]")
    assert "does not know this API key" in alert.inner_text()
    assert page.is_hidden("#nav")
    shot(page, screenshots, "00-sign-in-refused")
    sign_in(page, server.key)
    assert page.inner_text("h1") == "Models"
    page.reload()  # the key stays for this tab
    page.wait_for_selector("#nav:not([hidden])")
    page.click("#signout")
    page.wait_for_selector("input[name=api_key]")


def test_models_upload_activate_split_details_download_delete(
    page: Any, seeded: Server, bundles: dict[str, Path], screenshots: Path
) -> None:
    sign_in(page, seeded.key)
    models = page.locator("#model-list")
    models.locator("tr", has_text="placement").first.wait_for()
    form = page.locator("#upload-model")
    form.locator("input[name=file]").set_input_files(str(bundles["router"]))
    form.locator("input[name=name]").fill("router")
    form.locator("input[name=version]").fill("1")
    form.locator("button[type=submit]").click()
    row = models.locator("tr[data-key='router@1']")
    row.wait_for()
    row.get_by_role("button", name="Activate").click()
    row.locator(".badge.ok").wait_for()

    # A/B: placement 1 and 2 at 70/30.
    split = page.locator("form", has=page.locator("select[name=model_id]"))
    split.locator("select[name=model_id]").select_option("placement")
    split.locator("input[name='weight-1']").fill("0.7")
    split.locator("input[name='weight-2']").fill("0.3")
    split.get_by_role("button", name="Apply split").click()
    models.locator("tr[data-key='placement@1']", has_text="70.0 %").wait_for()
    listed = seeded.api("GET", "/models/list")
    weights = {(r["model_id"], r["version"]): r["weight"] for r in listed if r["active"]}
    assert weights[("placement", "1")] == pytest.approx(0.7)
    assert weights[("placement", "2")] == pytest.approx(0.3)

    row.get_by_role("button", name="Details").click()
    details = page.locator("#model-details")
    details.locator("text=Feature importance").wait_for()
    assert details.locator(".bar").count() == 18  # one bar per router feature
    assert "accuracy" in details.inner_text()
    assert details.locator("text=Activation history").count() == 1
    shot(page, screenshots, "01-models")

    with page.expect_download() as download:
        row.get_by_role("button", name="Download").click()
    saved = download.value.path()
    assert zipfile.is_zipfile(saved) and "bundle.json" in zipfile.ZipFile(saved).namelist()

    page.once("dialog", lambda dialog: dialog.accept())
    models.locator("tr[data-key='placement@2']").get_by_role("button", name="Delete").click()
    expect(models.locator("tr[data-key='placement@2']")).to_have_count(0)
    assert ("placement", "2") not in {
        (r["model_id"], r["version"]) for r in seeded.api("GET", "/models/list")
    }


def test_a_failed_upload_says_why_and_stores_nothing(
    page: Any, seeded: Server, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not a whole zip")
    sign_in(page, seeded.key)
    form = page.locator("#upload-model")
    form.locator("input[name=file]").set_input_files(str(broken))
    form.locator("input[name=name]").fill("broken")
    form.locator("input[name=version]").fill("1")
    form.locator("button[type=submit]").click()
    alert = form.locator("[role=alert]")
    alert.wait_for()
    assert "To fix" in alert.inner_text()
    assert "broken" not in {r["model_id"] for r in seeded.api("GET", "/models/list")}


def test_an_upload_cut_off_halfway_says_so_and_stores_nothing(
    page: Any, seeded: Server, bundles: dict[str, Path]
) -> None:
    sign_in(page, seeded.key)
    page.route("**/api/v1/ml/models/upload", lambda route: route.abort("connectionreset"))
    form = page.locator("#upload-model")
    form.locator("input[name=file]").set_input_files(str(bundles["router"]))
    form.locator("input[name=name]").fill("cut")
    form.locator("input[name=version]").fill("1")
    form.locator("button[type=submit]").click()
    alert = form.locator("[role=alert]")
    alert.wait_for()
    assert "interrupted" in alert.inner_text() and "upload again" in alert.inner_text()
    assert form.locator("button[type=submit]").is_enabled()
    assert "cut" not in {r["model_id"] for r in seeded.api("GET", "/models/list")}


def test_engines_upload_schema_test_and_select(
    page: Any, seeded: Server, tmp_path: Path, screenshots: Path
) -> None:
    module = tmp_path / "eu_only.py"
    module.write_text(ENGINE)
    sign_in(page, seeded.key)
    page.click("text=Engines")
    page.locator("tr[data-key=greedy]").wait_for()
    page.locator("#upload-engine input[name=file]").set_input_files(str(module))
    page.locator("#upload-engine button[type=submit]").click()
    engine_row = page.locator("tr", has_text="Every call to GCP europe-west1")
    engine_row.wait_for()
    engine_row.get_by_role("button", name="Open").click()
    detail = page.locator("#engine-detail")
    detail.locator("text=Input schema").wait_for()
    assert '"provider"' in detail.inner_text()  # the output schema, as declared
    detail.get_by_role("button", name="Run test").click()
    output = page.locator("#engine-test-output")
    output.locator(".badge.ok").wait_for()
    assert "europe-west1" in output.inner_text()
    detail.get_by_role("button", name="Select").click()
    engine_row.locator(".badge.ok").wait_for()
    shot(page, screenshots, "02-engines")
    decided = seeded.api(
        "POST", "/decide", json=json.loads(detail.locator("textarea[name=request]").input_value())
    )
    assert decided["engine"] == "eu-only" and decided["placement"]["region"] == "europe-west1"
    seeded.api("POST", "/engines/select", json={"engine_id": "greedy"})  # back to the default


def test_gap_filler_analyze_fill_progress_and_history(
    page: Any, seeded: Server, screenshots: Path
) -> None:
    sign_in(page, seeded.key)
    page.click("text=Gap filler")
    form = page.locator("#gap-form")
    form.locator("select[name=model_id]").select_option("spot")
    form.locator("input[name=instance_types]").fill("m5.large,c5.large")
    form.locator("input[name=regions]").fill("us-east-1")
    form.get_by_role("button", name="Analyze").click()
    analysis = page.locator("#gap-analysis")
    analysis.locator("text=120 days").wait_for()
    assert analysis.locator("tbody tr").count() >= 2
    form.locator("select[name=source]").select_option("synthetic")
    page.click("#gap-fill")
    page.locator("#gap-job [data-status=completed]").wait_for(timeout=120_000)
    job = page.locator("#gap-job").inner_text()
    assert "Not filled" in job and "30 days" in job  # 120-day gap, 90-day cap
    page.locator("tr", has_text="completed").first.wait_for()
    shot(page, screenshots, "03-gap-filler")


def test_live_timeline_expands_and_new_decisions_arrive(
    page: Any, seeded: Server, screenshots: Path
) -> None:
    sign_in(page, seeded.key)
    page.click("text=Live")
    page.wait_for_selector("#timeline .marker")
    page.locator(".stream-state", has_text="live").first.wait_for()
    before = page.locator("#timeline .marker").count()
    # The newest 100 of this tenant's decisions (the page reads 100, then follows the stream).
    assert before == min(100, len(seeded.api("GET", "/decisions/recent?limit=1000")))
    own = {d["id"] for d in seeded.api("GET", "/decisions/recent?limit=1000")}
    shown = set(page.eval_on_selector_all("#timeline .marker", "ms => ms.map(m => m.dataset.id)"))
    assert shown <= own  # the other tenant's five never reach this page
    decide_many(seeded, 3)
    expect(page.locator("#timeline .marker")).to_have_count(before + 3)
    page.locator("#timeline .marker").last.click()
    detail = page.locator("#decision-detail")
    assert "checked" in detail.locator(".explanation").inner_text()
    page.locator("#arms tbody tr").first.wait_for()
    assert "greedy" in page.locator("#arms").inner_text()
    page.locator("#outcomes-chart canvas").wait_for()
    page.locator("#drift-alerts tbody tr").first.wait_for()
    assert "input" in page.locator("#drift-alerts").inner_text()
    assert page.locator("#drift-status .badge.bad").count() >= 1  # the drifted features
    page.locator("#predictions-chart canvas").wait_for()
    assert "with an actual" in page.locator("#predictions-chart + div").inner_text()
    shot(page, screenshots, "04-live")


def test_simulation_report_side_by_side(
    page: Any, seeded: Server, tmp_path: Path, screenshots: Path
) -> None:
    out = tmp_path / "simulate"
    subprocess.run(
        [sys.executable, "-m", "skyroute.cli.main", "simulate", "--trace",
         "synthetic:functions=20,days=1,seed=3", "--policy", "all", "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    sign_in(page, seeded.key)
    page.click("text=Simulation reports")
    page.locator("input[name=metrics]").set_input_files(str(out / "metrics.json"))
    report = page.locator("#report")
    report.locator("tbody tr").first.wait_for()
    policies = metrics["policies"]
    assert report.locator("table tbody tr").count() == len(policies)
    best = min(policies, key=lambda name: policies[name]["objective"])
    assert report.locator("tr.best").inner_text().startswith(best)
    shot(page, screenshots, "05-reports")

    page.locator("input[name=metrics]").set_input_files(
        files=[{"name": "notes.json", "mimeType": "application/json", "buffer": b"[1, 2]"}]
    )
    assert "not a simulation" in report.locator("[role=alert]").inner_text()


def test_every_asset_is_served_by_the_package(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in ("/ui", "/dashboard"):
        assert httpx.get(server.url + path).headers.get("location") == "/"
    for asset in ("/dashboard/assets/js/app.js", "/dashboard/assets/vendor/uPlot.iife.min.js"):
        assert httpx.get(server.url + asset).status_code == 200
    assert "http" not in "".join(
        line for line in page.text.splitlines() if "src=" in line or "href=" in line
    )
