"""The sidecar's payload models: one slug pattern with the platform API, and no Airflow behind them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from dashboard_server.payloads import JoinRequest, LeaveRequest
from include.workflows.model import SLUG_PATTERN


@pytest.mark.parametrize("slug", ["acme", "a", "demo-2", "team_x", "0ps", "a" * 63])
def test_join_accepts_every_slug_the_api_creates(slug):
    assert JoinRequest(project=slug).project == slug
    assert LeaveRequest(project=slug).project == slug


@pytest.mark.parametrize("slug", ["Acme", "acme.io", "-acme", "_acme", "a" * 64, "a b", ""])
def test_join_refuses_what_no_project_can_be_called(slug):
    # The sidecar used to take ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$; the API never creates such a
    # project (include.api.types.Slug), so those names could only ever answer "not a member".
    with pytest.raises(ValidationError):
        JoinRequest(project=slug)


def test_one_pattern_for_the_api_the_store_and_the_sidecar():
    import include.api.types as api_types
    from dashboard_server import http
    from include.workflows import templates_store

    assert http.SLUG_PATTERN is api_types.SLUG_PATTERN is templates_store.SLUG_PATTERN is SLUG_PATTERN


def test_the_sidecar_imports_no_airflow():
    code = (
        "import sys, dashboard_server.server, include.events.reconcile, include.airflow_client\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
