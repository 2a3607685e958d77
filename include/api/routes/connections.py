"""Which Airflow connections exist, by id and type only: the editor's ``connection_id`` picker.

Read from Airflow's REST API at request time (the service user when configured, else the caller's own
token, as the platform's other reads of Airflow).  Nothing else of a connection leaves here: no host,
login, password, extra or description.  When Airflow cannot say, the answer is ``available: false``
and the editor keeps its free-text field without a warning.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.airflow_client import AirflowError
from include.api.airflow_service import airflow_client
from include.api.deps import CurrentUser, _token_from
from include.api.errors import ServiceUnavailable, problem_responses

router = APIRouter(prefix="/api/v1/connections", tags=["connections"])


class ConnectionOut(BaseModel):
    connection_id: str
    conn_type: str | None = None


class ConnectionList(BaseModel):
    items: list[ConnectionOut] = Field(description="Every connection Airflow holds, by id (sorted): ids and types only")
    available: bool = Field(description="False when Airflow could not be asked; items is then empty")
    detail: str = ""


@router.get("", response_model=ConnectionList, summary="Airflow connection ids and types (no secrets)",
            responses=problem_responses(401))
def list_connections(user: CurrentUser, request: Request) -> ConnectionList:
    try:
        with airflow_client(_token_from(request)) as client:
            rows = client.paged("/api/v2/connections", "connections")
    except (AirflowError, ServiceUnavailable) as exc:
        return ConnectionList(items=[], available=False, detail=f"Airflow cannot list its connections now: {exc}")
    items = sorted((ConnectionOut(connection_id=str(r["connection_id"]), conn_type=r.get("conn_type"))
                    for r in rows if r.get("connection_id")), key=lambda c: c.connection_id)
    return ConnectionList(items=items, available=True)
