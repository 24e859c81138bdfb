"""/docs and /redoc work offline and are counted under their own route."""

from __future__ import annotations

import re


def test_docs_pages_load_their_assets_from_the_service_not_a_cdn(client):
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        assert "cdn." not in response.text and "googleapis" not in response.text
        assets = re.findall(r"""(?:src|href)=["']?(/docs-assets/[^"' >]+)""", response.text)
        assert assets, response.text
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")


def test_docs_and_schema_are_counted_under_their_routes(client):
    for path in ("/docs", "/openapi.json", "/docs-assets/swagger-ui.css", "/no-such-page"):
        client.get(path)
    metrics = client.get("/metrics").text
    for route in ("/docs", "/openapi.json", "/docs-assets", "unmatched"):
        assert re.search(rf'route="{re.escape(route)}"', metrics), route
    assert 'route="/docs-assets/swagger-ui.css"' not in metrics
