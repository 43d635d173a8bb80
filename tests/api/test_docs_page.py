"""``/docs`` is served with Swagger UI from the package: nothing on the page comes from a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_page_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert not [s for s in sources if s.startswith(("http://", "https://", "//"))], sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source
    script = next(s for s in sources if s.endswith(".js"))
    assert b"SwaggerUIBundle" in client.get(script).content  # the real bundle
    assert "/openapi.json" in page.text
    assert client.get("/openapi.json").status_code == 200
