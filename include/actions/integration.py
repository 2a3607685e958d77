"""``integration``: one HTTP call through an Airflow HTTP connection (the http provider's ``HttpHook``).

The connection holds the base URL and credentials (managed in Airflow, never
in the workflow); the node says method, endpoint, headers, body and which
status it expects.  String values in the endpoint, headers and body may use
the same ``{placeholders}`` as comments (see :mod:`include.actions.templating`).
"""

from __future__ import annotations

import json
from typing import Any

from include.actions.context import ActionFailed, RunContext
from include.actions.templating import render, render_tree

REQUEST_TIMEOUT_S = 30
RESPONSE_PREVIEW = 2000  # characters of the response body kept in outputs



def integration(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    from airflow.providers.http.hooks.http import HttpHook

    conn_id = config.get("connection_id")
    if not conn_id:
        raise ActionFailed(node_id, "config.connection_id is required")
    method = str(config.get("method", "POST")).upper()
    endpoint = render(node_id, "endpoint", config.get("endpoint") or "", ctx)
    headers = render_tree(node_id, "headers", dict(config.get("headers") or {}), ctx)
    body = render_tree(node_id, "body", config.get("body"), ctx)
    expected = config.get("expected_status") or [200, 201, 202, 204]
    expected = [int(s) for s in (expected if isinstance(expected, list) else [expected])]

    hook = HttpHook(method=method, http_conn_id=conn_id)
    kwargs: dict[str, Any] = {}
    if body is not None and method not in ("GET", "HEAD"):
        if isinstance(body, (dict, list)):
            kwargs["json"] = body
        else:
            kwargs["data"] = str(body)
    elif isinstance(body, dict) and method == "GET":
        kwargs["data"] = body  # HttpHook sends GET data as query parameters
    try:
        response = hook.run(
            endpoint=endpoint,
            headers=headers,
            extra_options={"check_response": False, "timeout": REQUEST_TIMEOUT_S},
            **kwargs,
        )
    except Exception as exc:  # noqa: BLE001 - any transport error becomes a named node failure
        if type(exc).__name__ == "AirflowNotFoundException":
            raise ActionFailed(node_id, f"Airflow connection {conn_id!r} is not defined") from None
        raise ActionFailed(
            node_id, f"{method} {endpoint or '/'} via {conn_id!r} failed: {exc}", retryable=True
        ) from None
    if response.status_code not in expected:
        raise ActionFailed(
            node_id,
            f"{method} {endpoint or '/'} via {conn_id!r} returned HTTP {response.status_code}, expected "
            f"{' or '.join(map(str, expected))}: {response.text[:300]}",
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    try:
        payload: Any = response.json()
        json.dumps(payload)
    except ValueError:
        payload = None
    return {
        "status_code": response.status_code,
        "response_json": payload if payload is not None and len(response.text) <= RESPONSE_PREVIEW else None,
        "response_text": None if payload is not None else response.text[:RESPONSE_PREVIEW],
    }
