"""The web dashboard: one page at ``/``, every asset shipped in this package.

The page is a client of the same JSON API as every other caller (``/api/v1/ml``, the API key
kept in the browser's session storage): there is no second, HTML-rendering path to keep in
step with the API, and no build step -- plain ES modules plus one vendored chart library
(uPlot, 51 kB, see ``static/vendor/VENDOR.md``). Nothing is loaded from a CDN, so the page
works on a server without internet access.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = "/dashboard/assets"
#: Scripts and styles from this server only; streams over WebSocket to it.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@cache
def _index() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def install_dashboard(app: FastAPI) -> None:
    """``/`` (the page), ``/ui`` and ``/dashboard`` (redirects) and the page's assets."""
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="dashboard-assets")

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(_index(), headers=headers)

    for alias in ("/ui", "/dashboard"):
        app.add_api_route(
            alias, lambda: RedirectResponse("/", status_code=307), include_in_schema=False
        )
