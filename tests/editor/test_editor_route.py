"""The platform app serves the built editor to signed-in users only.

Uses a stand-in build folder (an index.html and a hashed asset) so the test
does not depend on `npm run build` having run; the e2e test covers the real
bundle.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from include.api.app import create_app
from include.api.routes import editor as editor_route
from include.auth.tokens import mint_token


@pytest.fixture()
def built(tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>AutoPR Workflow Editor</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('editor')")
    (tmp_path / "icon.svg").write_text("<svg/>")
    monkeypatch.setattr(editor_route, "EDITOR_DIR", tmp_path.resolve())
    return tmp_path


@pytest.fixture()
def client():
    return TestClient(create_app())


def test_signed_in_user_gets_the_page_uncached(built, client):
    client.cookies.set("_token", mint_token("alice"))
    resp = client.get("/editor/")
    assert resp.status_code == 200
    assert "AutoPR Workflow Editor" in resp.text
    assert resp.headers["cache-control"] == "no-cache"


def test_bearer_token_works_too(built, client):
    resp = client.get("/editor/", headers={"Authorization": f"Bearer {mint_token('alice')}"})
    assert resp.status_code == 200


@pytest.mark.parametrize("token", [None, "garbage", "expired"])
def test_anyone_else_is_sent_to_airflow_login_and_back(built, client, token):
    if token == "expired":
        token = mint_token("alice", ttl_seconds=-10)
    if token:
        client.cookies.set("_token", token)
    resp = client.get("/editor/?workflow=wf-1", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/api/v2/auth/login?next=%2Feditor%2F%3Fworkflow%3Dwf-1"


def test_hashed_assets_are_public_and_cached_for_a_year(built, client):
    resp = client.get("/editor/assets/index-abc123.js")
    assert resp.status_code == 200
    assert "immutable" in resp.headers["cache-control"]
    assert client.get("/editor/icon.svg").status_code == 200


def test_client_side_routes_fall_back_to_the_page(built, client):
    client.cookies.set("_token", mint_token("alice"))
    resp = client.get("/editor/workflows/wf-1")
    assert resp.status_code == 200 and "AutoPR Workflow Editor" in resp.text


@pytest.mark.parametrize(
    "path", ["/editor/assets/missing.js", "/editor/..%2F..%2Fsettings.py", "/editor/%2e%2e/%2e%2e/app.py"]
)
def test_missing_files_and_path_escapes_are_404(built, client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_without_a_build_the_error_says_how_to_build(client, tmp_path, monkeypatch):
    monkeypatch.setattr(editor_route, "EDITOR_DIR", tmp_path / "nothing")
    resp = client.get("/editor/")
    assert resp.status_code == 503
    assert "npm ci --prefix editor && npm run build --prefix editor" in resp.json()["detail"]


def test_the_editor_is_not_in_the_openapi_document(client):
    assert not any(p.startswith("/editor") for p in client.get("/openapi.json").json()["paths"])


def test_config_names_the_airflow_ui_and_the_dashboard(client, monkeypatch, settings):
    client.cookies.set("_token", mint_token("alice"))
    data = client.get("/editor/config.json").json()
    assert data["user"] == "alice"
    assert data["airflow_ui_url"] == settings.airflow_ui_url.rstrip("/")
    assert data["dashboard_url"].endswith(f":{settings.dashboard_port}")
    client.cookies.clear()
    assert client.get("/editor/config.json").status_code == 401
