"""A small client for Airflow 3's public REST API (``/api/v2``).

The platform starts and inspects workflow runs the way any Airflow user would:
through the REST API, with a JWT from ``POST /auth/token``.  It logs in as a
service user (``AUTOPR_AIRFLOW_API_USERNAME``/``_PASSWORD``) or forwards the
caller's own Airflow token, so Airflow's permissions and audit log apply.

Only what the platform needs is here: trigger a DAG run with ``conf``, list
runs and their task instances, unpause, look a DAG up, list import errors,
ask the DAG processor to re-parse a file (``PUT /api/v2/parseDagFile/{file_token}``)
and read every page of a collection (the event reconciler's polls).

This is the platform's one Airflow REST client: the API routes, the FAB role
sync and the dashboard sidecar's reconciler (``include.events.reconcile``) all
use it, so there is one login and one retry-on-401.  It imports no Airflow
package (httpx and the settings only), so the sidecar can use it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Self
from urllib.parse import quote

import httpx

from include.settings import Settings, get_settings


class AirflowError(Exception):
    """Airflow answered with an error status; ``status`` and ``detail`` say what."""

    def __init__(self, status: int, detail: str, method: str = "", path: str = ""):
        super().__init__(f"Airflow {method} {path} -> {status}: {detail}")
        self.status, self.detail, self.method, self.path = status, detail, method, path


class AirflowUnavailable(AirflowError):
    """Airflow could not be reached at all (connection refused, timeout)."""

    def __init__(self, detail: str, method: str = "", path: str = ""):
        super().__init__(0, detail, method, path)


def _q(value: str) -> str:
    return quote(value, safe="")


# Service tokens are shared by every client built for the same user in this
# process, so a burst of webhook deliveries logs in once, not once per request.
# The key includes (a digest of) the password: a client given other credentials
# logs in itself, and is refused if they are wrong, instead of borrowing a token.
_token_cache: dict[tuple[str, str, str], tuple[str, float]] = {}
_token_lock = threading.Lock()
_TOKEN_REUSE_SECONDS = 600
#: Items per request when reading a whole collection (:meth:`AirflowClient.paged`).
PAGE_SIZE = 100


class AirflowClient:
    """Synchronous Airflow REST client; build one per request or share one (thread-safe httpx)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        settings: Settings | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        settings = settings or get_settings()
        self.base_url = (base_url or settings.airflow_api_url).rstrip("/")
        self._fixed_token = token
        self.username = username if username is not None else settings.airflow_api_username
        self.password = password if password is not None else settings.airflow_api_password
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    # -- plumbing -------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def login(self) -> str:
        """A JWT for the service user from ``POST /auth/token`` (cached for a few minutes)."""
        if not self.username:
            raise AirflowError(401, "no Airflow credentials: set AUTOPR_AIRFLOW_API_USERNAME/PASSWORD", "POST", "/auth/token")
        key = self._cache_key()
        with _token_lock:
            cached = _token_cache.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        try:
            response = self._http.post("/auth/token", json={"username": self.username, "password": self.password})
        except httpx.HTTPError as exc:
            raise AirflowUnavailable(f"{type(exc).__name__}: {exc}", "POST", "/auth/token") from None
        if response.status_code >= 400:
            raise AirflowError(response.status_code, _detail(response), "POST", "/auth/token")
        token = response.json()["access_token"]
        with _token_lock:
            _token_cache[key] = (token, time.monotonic() + _TOKEN_REUSE_SECONDS)
        return token

    def _cache_key(self) -> tuple[str, str, str]:
        return self.base_url, self.username, hashlib.sha256((self.password or "").encode()).hexdigest()

    def _forget_token(self) -> None:
        with _token_lock:
            _token_cache.pop(self._cache_key(), None)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send an authenticated request; re-login once if a cached service token was refused."""
        for attempt in (1, 2):
            token = self._fixed_token or self.login()
            try:
                response = self._http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            except httpx.HTTPError as exc:
                raise AirflowUnavailable(f"{type(exc).__name__}: {exc}", method, path) from None
            if response.status_code == 401 and not self._fixed_token and attempt == 1:
                self._forget_token()
                continue
            if response.status_code >= 400:
                raise AirflowError(response.status_code, _detail(response), method, path)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def paged(self, path: str, key: str, params: dict[str, Any] | None = None, *, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """Every item of a collection endpoint (``GET path``, items under ``key``), page by page.

        Offset paging, which every Airflow list endpoint supports; stops at a
        short or empty page or once ``total_entries`` items were read.
        """
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._json("GET", path, params={**(params or {}), "limit": page_size, "offset": offset}) or {}
            batch = list(page.get(key) or [])
            items.extend(batch)
            total = page.get("total_entries")
            offset += len(batch)
            if not batch or len(batch) < page_size or (total is not None and offset >= total):
                return items

    # -- DAGs -----------------------------------------------------------------------------------
    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as Airflow knows it, or None when Airflow has not parsed it (yet)."""
        try:
            return self._json("GET", f"/api/v2/dags/{_q(dag_id)}")
        except AirflowError as exc:
            if exc.status == 404:
                return None
            raise

    def list_dags(self, *, dag_id_pattern: str | None = None, tags: list[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: list[tuple[str, str | int]] = [("limit", limit)]
        if dag_id_pattern:
            params.append(("dag_id_pattern", dag_id_pattern))
        for tag in tags or []:
            params.append(("tags", tag))
        return self._json("GET", "/api/v2/dags", params=params)["dags"]

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self._json("PATCH", f"/api/v2/dags/{_q(dag_id)}", json={"is_paused": paused})

    def reparse_file(self, file_token: str) -> None:
        """Ask the DAG processor to parse one DAG file next (Airflow 3's parseDagFile endpoint)."""
        self.request("PUT", f"/api/v2/parseDagFile/{_q(file_token)}")

    def request_reparse(self, dag_id: str) -> bool:
        """Re-parse the file that defines ``dag_id``; False when Airflow does not know the DAG yet.

        Airflow only accepts re-parse requests for files it has parsed before
        (the ``file_token`` comes from the DAG), so a brand-new file is picked
        up by the DAG processor's folder scan instead.
        """
        dag = self.get_dag(dag_id)
        if dag is None or not dag.get("file_token"):
            return False
        self.reparse_file(dag["file_token"])
        return True

    def import_errors(self, filename_contains: str | None = None) -> list[dict[str, Any]]:
        errors = self._json("GET", "/api/v2/importErrors", params={"limit": 100})["import_errors"]
        if filename_contains:
            errors = [e for e in errors if filename_contains in (e.get("filename") or "")]
        return errors

    # -- runs -----------------------------------------------------------------------------------
    def trigger_dag_run(self, dag_id: str, conf: dict[str, Any], *, run_id: str | None = None, note: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        if note:
            body["note"] = note
        return self._json("POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", json=body)

    def list_dag_runs(self, dag_id: str, *, limit: int = 25, offset: int = 0) -> dict[str, Any]:
        """``{"dag_runs": [...], "total_entries": n}``, newest first."""
        return self._json(
            "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns",
            params={"limit": limit, "offset": offset, "order_by": "-run_after"},
        )

    def get_dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self._json("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", params={"limit": 1000})
        return data["task_instances"]


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        return detail if isinstance(detail, str) else str(detail)[:500]
    return str(body)[:500]


def ui_url(dag_id: str, run_id: str | None = None, task_id: str | None = None, settings: Settings | None = None) -> str:
    """Deep link into the Airflow 3 UI (grid of a DAG, one run, or one task of a run)."""
    base = (settings or get_settings()).airflow_ui_url.rstrip("/")
    url = f"{base}/dags/{_q(dag_id)}"
    if run_id:
        url += f"/runs/{_q(run_id)}"
        if task_id:
            url += f"/tasks/{_q(task_id)}"
    return url
