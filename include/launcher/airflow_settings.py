"""Apply ``airflow_settings.yaml`` (the Astro CLI schema) to a running Airflow.

Connections, pools and variables are written through Airflow's REST API, so
this works the same against SQLite or PostgreSQL metadata DBs and never
touches Airflow's database directly.

The file seeds what is missing: an object that already exists is left exactly
as it is, because users change connections in the Airflow UI (a token, a
GitHub Enterprise host) and a restart must not put the file's placeholders
back.  ``overwrite=True`` (``./autopr run --overwrite-settings`` or
``AUTOPR_AIRFLOW_SETTINGS_OVERWRITE=true``) writes the file's values over
existing objects instead, touching only the fields the file gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field

from include.settings import REPO_ROOT


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionSpec(_Strict):
    conn_id: str
    conn_type: str
    conn_host: str | None = None
    conn_schema: str | None = None
    conn_login: str | None = None
    conn_password: str | None = None
    conn_port: int | None = None
    conn_extra: dict[str, Any] | str | None = None
    conn_description: str | None = None


class PoolSpec(_Strict):
    pool_name: str
    pool_slot: int = Field(ge=0)
    pool_description: str | None = None


class VariableSpec(_Strict):
    variable_name: str
    variable_value: str
    variable_description: str | None = None


class AirflowSection(_Strict):
    connections: list[ConnectionSpec] = []
    pools: list[PoolSpec] = []
    variables: list[VariableSpec] = []


class AirflowSettingsFile(_Strict):
    airflow: AirflowSection = AirflowSection()


def load(path: Path = REPO_ROOT / "airflow_settings.yaml") -> AirflowSettingsFile:
    data = yaml.safe_load(path.read_text()) or {}
    return AirflowSettingsFile.model_validate(data)


def get_token(api_url: str, username: str, password: str) -> str:
    resp = httpx.post(f"{api_url}/auth/token", json={"username": username, "password": password}, timeout=10)
    resp.raise_for_status()
    return resp.json()["access_token"]


def _write(client: httpx.Client, collection: str, key: str, body: dict[str, Any], overwrite: bool) -> str:
    """Create the object; when it exists, keep it or (overwrite) patch the fields the file gives."""
    resp = client.post(f"/api/v2/{collection}", json=body)
    outcome = "created"
    if resp.status_code == 409:
        if not overwrite:
            return "kept"
        given = [name for name, value in body.items() if value is not None and name not in _KEYS[collection]]
        patch = {name: body[name] for name in given}
        if collection == "pools":
            # Airflow 3.3.2 validates a pool patch as a whole pool even under an update mask: the name and
            # include_deferred must be in the body, so the pool's current values fill what the file leaves out.
            current = client.get(f"/api/v2/pools/{key}").json()
            patch = {"pool": key, "slots": current["slots"], "include_deferred": current["include_deferred"], **patch}
        else:  # connection and variable patch bodies repeat the key
            patch.update({name: body[name] for name in _KEYS[collection]})
        resp = client.patch(f"/api/v2/{collection}/{key}", json=patch, params={"update_mask": given})
        outcome = "updated"
    if resp.status_code >= 400:
        raise RuntimeError(f"airflow_settings.yaml: {collection}/{key}: HTTP {resp.status_code}: {resp.text[:300]}")
    return outcome


# The identifying field of each collection's body: never part of an update mask.
_KEYS = {"connections": {"connection_id"}, "pools": {"name"}, "variables": {"key"}}


def apply(client: httpx.Client, spec: AirflowSettingsFile, overwrite: bool = False) -> dict[str, dict[str, int]]:
    """Write every connection, pool and variable through ``client`` (authenticated on Airflow's REST API).

    Returns per collection how many were created, kept and updated.
    """
    counts: dict[str, dict[str, int]] = {}

    def record(collection: str, outcome: str) -> None:
        per = counts.setdefault(collection, {"created": 0, "kept": 0, "updated": 0})
        per[outcome] += 1

    for conn in spec.airflow.connections:
        extra = conn.conn_extra
        body = {
            "connection_id": conn.conn_id, "conn_type": conn.conn_type, "host": conn.conn_host,
            "schema": conn.conn_schema, "login": conn.conn_login, "password": conn.conn_password,
            "port": conn.conn_port, "description": conn.conn_description,
            "extra": json.dumps(extra) if isinstance(extra, dict) else extra,
        }
        record("connections", _write(client, "connections", conn.conn_id, body, overwrite))
    for pool in spec.airflow.pools:
        body = {"name": pool.pool_name, "slots": pool.pool_slot, "description": pool.pool_description}
        record("pools", _write(client, "pools", pool.pool_name, body, overwrite))
    for var in spec.airflow.variables:
        body = {"key": var.variable_name, "value": var.variable_value, "description": var.variable_description}
        record("variables", _write(client, "variables", var.variable_name, body, overwrite))
    return counts


def apply_over_http(api_url: str, username: str, password: str, spec: AirflowSettingsFile,
                    overwrite: bool = False) -> dict[str, dict[str, int]]:
    """Through a running API server (``./autopr run``, once it is healthy)."""
    token = get_token(api_url, username, password)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=15) as client:
        return apply(client, spec, overwrite)


def apply_in_process(username: str, password: str, spec: AirflowSettingsFile,
                     overwrite: bool = False) -> dict[str, dict[str, int]]:
    """Through Airflow's own API app in this process: the init step runs before any API server exists.

    The requests, bodies and answers are the same as over HTTP; only the transport differs.  Airflow must
    be configured by this process's environment before it is imported (see ``main``).
    """
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(), base_url="http://airflow.init") as client:
        resp = client.post("/auth/token", json={"username": username, "password": password})
        resp.raise_for_status()
        client.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        return apply(client, spec, overwrite)


def summary(counts: dict[str, dict[str, int]]) -> str:
    parts = []
    for collection, per in counts.items():
        said = ", ".join(f"{n} {outcome}" for outcome, n in per.items() if n)
        parts.append(f"{collection} {said}")
    return "; ".join(parts) or "nothing to apply"


def main() -> None:
    """``python -m include.launcher.airflow_settings [--overwrite]``, run by the init step in Airflow's environment."""
    import argparse
    import os

    parser = argparse.ArgumentParser(description="apply airflow_settings.yaml through Airflow's API app in-process")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    counts = apply_in_process(os.environ["AUTOPR_ADMIN_USERNAME"], os.environ["AUTOPR_ADMIN_PASSWORD"], load(),
                              overwrite=args.overwrite)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
