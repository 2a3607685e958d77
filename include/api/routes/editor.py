"""Serve the visual workflow editor (the Vite build of ``editor/``) at ``/editor/``.

The Airflow plugin mounts the platform app at ``/autopr``, so the editor lives
at ``/autopr/editor/``, same-origin with the Airflow UI that embeds it as an
``external_views`` iframe.  Same origin matters: the editor's API calls carry
the Airflow UI's ``_token`` cookie and need no credential of their own.

The page itself is only served to a signed-in user; anyone else is sent to
Airflow's login (``/api/v2/auth/login`` picks the configured auth manager's
login page) and comes back here afterwards.  The hashed bundle files under
``assets/`` hold no data and are cached for a year.  Paths that are not files
fall back to ``index.html`` so the editor's own URLs survive a reload.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from include.api.deps import CurrentUser, current_user
from include.api.errors import NotFound, ServiceUnavailable, Unauthorized
from include.settings import get_settings

EDITOR_DIR = Path(__file__).resolve().parent.parent / "static" / "editor"
BUILD_COMMAND = "npm ci --prefix editor && npm run build --prefix editor"
AIRFLOW_LOGIN_PATH = "/api/v2/auth/login"

router = APIRouter(tags=["editor"], include_in_schema=False)


def _built_dir() -> Path:
    if not (EDITOR_DIR / "index.html").is_file():
        raise ServiceUnavailable(f"The workflow editor has not been built yet: run `{BUILD_COMMAND}` in the repository.")
    return EDITOR_DIR


def _login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to Airflow's login, returning to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{AIRFLOW_LOGIN_PATH}?{urlencode({'next': here})}", status_code=303)


async def _index(request: Request) -> Response:
    root = _built_dir()
    try:
        await current_user(request)
    except Unauthorized:
        return _login_redirect(request)
    # The HTML names the hashed bundles: never cache it, or a rebuilt editor is not picked up.
    return FileResponse(root / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/editor/config.json")
def editor_config(user: CurrentUser, request: Request) -> dict[str, str]:
    """Where the editor links to: the Airflow UI (run grid) and the live dashboard."""
    settings = get_settings()
    host = settings.dashboard_host
    if host in ("", "0.0.0.0", "::"):  # bound to every interface: reachable under the name the user typed
        host = request.url.hostname or "127.0.0.1"
    return {
        "user": user.username,
        "airflow_ui_url": settings.airflow_ui_url.rstrip("/"),
        "dashboard_url": f"{request.url.scheme}://{host}:{settings.dashboard_port}",
    }


@router.get("/editor")
def editor_without_slash(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url.path + "/", status_code=308)


@router.get("/editor/")
async def editor_index(request: Request) -> Response:
    return await _index(request)


@router.get("/editor/{path:path}")
async def editor_file(path: str, request: Request) -> Response:
    root = _built_dir()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root):
        raise NotFound(f"No editor file {path!r}")
    if candidate.is_file():
        cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
        return FileResponse(candidate, headers={"Cache-Control": cache})
    if "." in Path(path).name:
        raise NotFound(f"No editor file {path!r}")
    return await _index(request)  # a client-side route: let the editor read the URL
