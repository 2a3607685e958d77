"""``airflow_settings.yaml`` against Airflow 3.3.2's REST API: seeds what is missing, keeps what users changed.

Runs on the session's platform (started the way ``./autopr run`` starts it),
restoring what it changes so other tests see the file's objects.
"""

from __future__ import annotations

import pytest

from include.launcher import airflow_settings

pytestmark = pytest.mark.integration

CONN = "/api/v2/connections/github_default"
POOL = "/api/v2/pools/analysers"
VAR = "/api/v2/variables/autopr_dashboard_url"
USER_CONN = {"connection_id": "github_default", "conn_type": "github", "host": "https://ghe.example.com/api/v3",
             "password": "ghp_user_token", "extra": '{"verify": false}'}


def _apply(platform, overwrite: bool) -> dict:
    return airflow_settings.apply_over_http(platform.airflow_url, platform.username, platform.password,
                                            airflow_settings.load(), overwrite=overwrite)


def test_seed_keeps_user_changes_and_overwrite_restores_the_file(platform):
    spec = airflow_settings.load()
    file_pool = next(p for p in spec.airflow.pools if p.pool_name == "analysers")
    file_var = next(v for v in spec.airflow.variables if v.variable_name == "autopr_dashboard_url")
    with platform.api() as api:
        api.patch(CONN, json=USER_CONN).raise_for_status()
        api.patch(POOL, json={"pool": "analysers", "slots": 9, "include_deferred": True},
                  params={"update_mask": ["slots", "include_deferred"]}).raise_for_status()
        api.patch(VAR, json={"key": "autopr_dashboard_url", "value": "https://dash.example.com"}).raise_for_status()
        try:
            assert _apply(platform, overwrite=False) == {
                "connections": {"created": 0, "kept": 1, "updated": 0},
                "pools": {"created": 0, "kept": 2, "updated": 0},
                "variables": {"created": 0, "kept": 1, "updated": 0},
            }
            conn = api.get(CONN).json()
            assert conn["host"] == USER_CONN["host"] and conn["extra"] == USER_CONN["extra"] and conn["password"]
            assert api.get(POOL).json()["slots"] == 9 and api.get(POOL).json()["include_deferred"] is True
            assert api.get(VAR).json()["value"] == "https://dash.example.com"

            counts = _apply(platform, overwrite=True)
            assert counts["connections"]["updated"] == 1 and counts["pools"]["updated"] == 2, counts
            assert counts["variables"]["updated"] == 1, counts
            conn = api.get(CONN).json()
            assert conn["host"] == "https://api.github.com"
            assert conn["extra"] == USER_CONN["extra"], "a field the file does not give is left alone"
            pool = api.get(POOL).json()
            assert pool["slots"] == file_pool.pool_slot and pool["description"] == file_pool.pool_description
            assert pool["include_deferred"] is True, "a field the file does not give is left alone"
            assert api.get(VAR).json()["value"] == file_var.variable_value
        finally:
            _apply(platform, overwrite=True)
            api.patch(POOL, json={"pool": "analysers", "slots": file_pool.pool_slot, "include_deferred": False},
                      params={"update_mask": ["include_deferred"]})


def test_seed_creates_what_is_missing(platform):
    with platform.api() as api:
        api.delete("/api/v2/pools/ml_training").raise_for_status()
        counts = _apply(platform, overwrite=False)
        assert counts["pools"] == {"created": 1, "kept": 1, "updated": 0}, counts
        assert api.get("/api/v2/pools/ml_training").json()["slots"] == 1
        assert _apply(platform, overwrite=False)["pools"] == {"created": 0, "kept": 2, "updated": 0}
