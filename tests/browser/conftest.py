"""Browser tests: the dashboard in Debian's Chromium, driven by Playwright, against a real
``skyroute serve`` with real data (a trained router, placement bundles, decisions, actuals,
a gap fill). Playwright never downloads a browser here: it starts /usr/bin/chromium
(``make test`` installs it with scripts/system-deps.sh).

Screenshots of every page go to ``out/screenshots`` (or ``$SKYROUTE_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiclient import ADMIN_TOKEN, decide_body, http_tenant, wait_until_ready

CHROMIUM = Path("/usr/bin/chromium")
#: Chromium flags for a closed network, as root, without a screen.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("SKYROUTE_SCREENSHOTS", ROOT / "out" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Server:
    url: str
    key: str
    other_key: str
    data: Path

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        response = httpx.request(
            method, f"{self.url}/api/v1/ml{path}", headers=headers, timeout=30, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    env = os.environ | {
        "SKYROUTE_DATA_DIR": str(data / "server"),
        "SKYROUTE_ADMIN_TOKEN": ADMIN_TOKEN,
        "ML_SERVER_WORKERS": "1",
        "GAP_FILLER_ENABLED": "true",
        # Live predictions every 2 s, so that the live page plots a real series.
        "LIVE_PREDICTION_INTERVAL_SECONDS": "2",
        # Drift over windows of 50 decisions, checked twice a second.
        "DRIFT_WINDOW_SIZE": "50",
        "DRIFT_CHECK_INTERVAL_SECONDS": "0.5",
    }
    command = [sys.executable, "-m", "skyroute.cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield Server(url, http_tenant(url, "acme"), http_tenant(url, "globex"), data)
    finally:
        process.terminate()
        process.wait(timeout=30)


def decide_many(server: Server, n: int, key: str | None = None) -> list[dict[str, Any]]:
    """``n`` decisions for a spread of functions and origins (real world-model answers)."""
    origins = ["aws:eu-west-1", "aws:us-east-1", "gcp:europe-west1", "azure:eastus"]
    answers = []
    for i in range(n):
        body = decide_body(
            id=f"fn-{i % 12}", duration_ms=40.0 + 37 * (i % 9), memory_mb=128 + 64 * (i % 6),
            origin=origins[i % len(origins)], rate_per_min=1.0 + 10 * (i % 5),
        )  # fmt: skip
        answers.append(server.api("POST", "/decide", key, json=body))
    return answers


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing (to fix: bash scripts/system-deps.sh)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A signed-out page on the dashboard; fails the test on any script error in the page."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            # Chromium logs every refused request (a 401 at sign-in, a cut-off upload) as
            # "Failed to load resource": those are the tests' own doing, not the page's errors.
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.set_default_timeout(15_000)
    page.goto(server.url + "/")
    yield page
    context.close()
    assert not problems, problems


def sign_in(page: Any, key: str) -> None:
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
