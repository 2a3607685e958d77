"""Apply ``airflow_settings.yaml`` (the Astro CLI schema) to a running Airflow.

Connections, pools and variables are written through Airflow's REST API, so
this works the same against SQLite or PostgreSQL metadata DBs and never
touches Airflow's database directly.  Re-applying is idempotent: existing
objects are updated (PATCH), new ones created (POST).
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


def _upsert(client: httpx.Client, collection: str, key: str, body: dict[str, Any]) -> None:
    resp = client.post(f"/api/v2/{collection}", json=body)
    if resp.status_code == 409:
        resp = client.patch(f"/api/v2/{collection}/{key}", json=body)
    if resp.status_code >= 400:
        raise RuntimeError(f"airflow_settings.yaml: {collection}/{key}: HTTP {resp.status_code}: {resp.text[:300]}")


def apply(api_url: str, token: str, spec: AirflowSettingsFile) -> dict[str, int]:
    """Write every connection, pool and variable; return how many of each."""
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=15) as client:
        for conn in spec.airflow.connections:
            extra = conn.conn_extra
            body = {
                "connection_id": conn.conn_id, "conn_type": conn.conn_type, "host": conn.conn_host,
                "schema": conn.conn_schema, "login": conn.conn_login, "password": conn.conn_password,
                "port": conn.conn_port, "description": conn.conn_description,
                "extra": json.dumps(extra) if isinstance(extra, dict) else extra,
            }
            _upsert(client, "connections", conn.conn_id, body)
        for pool in spec.airflow.pools:
            _upsert(client, "pools", pool.pool_name,
                    {"name": pool.pool_name, "slots": pool.pool_slot, "description": pool.pool_description})
        for var in spec.airflow.variables:
            _upsert(client, "variables", var.variable_name,
                    {"key": var.variable_name, "value": var.variable_value, "description": var.variable_description})
    return {"connections": len(spec.airflow.connections), "pools": len(spec.airflow.pools),
            "variables": len(spec.airflow.variables)}
