"""The OpenAPI schema generates without warnings; Swagger UI is served with offline assets."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client


def test_schema_validates_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/auth/tokens:", "/api/v1/auth/refresh:", "/api/v1/health:", "/api/v1/auth/jwk:"):
        assert path in text


def test_schema_endpoint(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Ledgerdoc API"
    assert "bearerAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_swagger_ui_is_served_from_the_sidecar(settings, tmp_path):
    # As deployed: collectstatic, then WhiteNoise serves the collected files (no CDN, no network).
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", "--noinput", verbosity=0)
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html.lower()
    assets = re.findall(r"""(?:src|href)=["']([^"']*drf_spectacular_sidecar[^"']*)["']""", html)
    assert assets, "Swagger UI assets must come from drf-spectacular-sidecar"
    assert not re.search(r"""(?:src|href)=["']https?://""", html), "no CDN assets"
    script = next(a for a in assets if a.endswith(".js"))
    asset = client.get(script)
    assert asset.status_code == 200
    body = b"".join(asset.streaming_content) if asset.streaming else asset.content
    assert len(body) > 1000
