"""The platform started the way ``./autopr run`` starts it: every component healthy, then stopped."""

from __future__ import annotations

import httpx
import pytest

from include.launcher.platform import AIRFLOW_COMPONENTS

pytestmark = pytest.mark.integration


def test_airflow_reports_every_component_healthy(platform):
    health = httpx.get(f"{platform.airflow_url}/api/v2/monitor/health", timeout=10).json()
    for component in AIRFLOW_COMPONENTS:
        assert health[component]["status"] == "healthy", health


def test_sidecar_and_mlflow_are_up(platform):
    assert httpx.get(f"{platform.mlflow_url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{platform.dashboard_url}/healthz", timeout=10).status_code == 200


def test_platform_api_is_mounted_in_airflow(platform):
    resp = httpx.get(f"{platform.airflow_url}/autopr/health", timeout=10)
    assert resp.status_code == 200 and resp.json()["database"] == "healthy"


def test_airflow_settings_yaml_was_applied(platform):
    with platform.api() as api:
        conn = api.get("/api/v2/connections/github_default")
        assert conn.status_code == 200 and conn.json()["conn_type"] == "github"
        assert api.get("/api/v2/pools/analysers").json()["slots"] == 2
        assert api.get("/api/v2/variables/autopr_dashboard_url").status_code == 200


def test_admin_login_gets_a_token_the_platform_accepts(platform):
    from include.auth.tokens import verify_token

    identity = verify_token(platform.token(), platform.settings)
    assert identity.username == platform.username


def test_sidecar_runs_relay_and_reconciler(platform):
    tasks = httpx.get(f"{platform.dashboard_url}/healthz", timeout=10).json()["tasks"]
    assert tasks.get("relay") == "running" and tasks.get("reconciler") == "running", tasks
