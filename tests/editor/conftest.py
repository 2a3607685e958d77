"""Fixtures for the editor tests: a fresh editor build and a browser.

The e2e test drives the built editor inside the running platform (the
session-wide ``platform`` fixture from tests/conftest.py) with Debian's
Chromium through Playwright; downloading a browser is not possible here.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITOR = REPO / "editor"
BUILT_INDEX = REPO / "include" / "api" / "static" / "editor" / "index.html"
ARTIFACTS = REPO / "test-artifacts" / "editor"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _sources() -> list[Path]:
    files = [EDITOR / n for n in ("package.json", "package-lock.json", "index.html", "vite.config.ts")]
    files += [p for p in (EDITOR / "src").rglob("*") if p.is_file() and ".test." not in p.name]
    return [p for p in files if p.exists()]


@pytest.fixture(scope="session")
def editor_build() -> Path:
    """The built editor, rebuilt first when a source is newer than the build (as ./autopr's setup does)."""
    newest = max(p.stat().st_mtime for p in _sources())
    if BUILT_INDEX.exists() and BUILT_INDEX.stat().st_mtime >= newest:
        return BUILT_INDEX.parent
    npm = shutil.which("npm")
    assert npm, "npm (Node.js 20+) is needed to build the editor: see the README's set-up"
    if not (EDITOR / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--prefix", str(EDITOR), "--no-audit", "--no-fund"], check=True, timeout=600)
    subprocess.run([npm, "run", "build", "--prefix", str(EDITOR)], check=True, timeout=600, capture_output=True)
    return BUILT_INDEX.parent


@pytest.fixture(scope="module")
def browser():
    """Chromium per test module: sync Playwright runs an event loop in this thread while it is open,
    which would break every later test that calls asyncio.run()."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get update && apt-get install -y chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def artifacts(request) -> Path:
    """Where this test's screenshots go (git-ignored test-artifacts/)."""
    path = ARTIFACTS / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def platform_app_served(monkeypatch, env: dict[str, str]):
    """The platform's API app mounted under ``/autopr`` on a free port (uvicorn in a thread), with ``env`` set.

    What the browser tests that need no Airflow processes open: yields the base URL; settings are
    re-read from ``env`` before the app is built and forgotten after the server stops.
    """
    import threading

    import uvicorn
    from fastapi import FastAPI

    from include.api.app import create_app
    from include.settings import get_settings
    from tests.support.ports import free_port
    from tests.support.waiting import wait_for

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    outer = FastAPI()
    outer.mount("/autopr", create_app())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(outer, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 30, "the platform app's server started", every=0.05)
    assert server.started, "the platform app's server stopped before it started (see its log above)"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        get_settings.cache_clear()
