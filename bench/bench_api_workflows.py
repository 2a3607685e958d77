"""Latency of the Workflow Builder API, in-process, on the embedded SQLite default (or AUTOPR_DATABASE_URL).

    .venv/bin/python bench/bench_api_workflows.py [--n 200]

Prints p50/p95/max milliseconds per operation: create, read, full update
(If-Match), node move (one version each), validate, export YAML, list page.
Compiling to the workflows folder is included (it happens on every save);
the best-effort Airflow re-parse is pointed at a closed port.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="workflows to create (each op runs n times)")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="autopr-bench-api-"))
    os.environ.setdefault("AUTOPR_STATE_DIR", str(state))
    os.environ["AUTOPR_WORKFLOWS_DIR"] = str(state / "workflows")
    os.environ["AUTOPR_AIRFLOW_API_URL"] = f"http://127.0.0.1:{_closed_port()}"
    import logging

    logging.disable(logging.INFO)
    from fastapi.testclient import TestClient

    from include.api.app import create_app
    from include.auth.tokens import mint_token
    from include.db.migrate import upgrade
    from include.settings import get_settings

    upgrade(get_settings().database_url)
    headers = {"Authorization": f"Bearer {mint_token('bench')}"}
    timings: dict[str, list[float]] = {}

    def timed(name: str, method: str, url: str, **kwargs):
        kwargs["headers"] = {**headers, **kwargs.get("headers", {})}
        t0 = time.perf_counter()
        r = client.request(method, url, **kwargs)
        timings.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        assert r.status_code < 300, (name, r.status_code, r.text)
        return r

    def doc(i: int) -> dict:
        return {
            "id": f"wf-{i}", "name": f"Workflow {i}", "project": "bench",
            "nodes": [
                {"id": "start", "type": "trigger", "config": {"event": "pr_opened", "branches": ["main"]}},
                {"id": "check", "type": "action", "config": {"action": "quality_check", "mode": "fast"}},
                {"id": "gate", "type": "condition", "config": {"expression": "nodes.check.passed == true"}},
                {"id": "ok", "type": "notification", "config": {"channel": "dashboard", "message": "ok {quality_score}"}},
                {"id": "bad", "type": "action", "config": {"action": "post_comment", "template": "{issues_count} issues"}},
            ],
            "edges": [
                {"id": "e1", "source": "start", "target": "check"},
                {"id": "e2", "source": "check", "target": "gate"},
                {"id": "e3", "source": "gate", "target": "ok", "branch": "true"},
                {"id": "e4", "source": "gate", "target": "bad", "branch": "false"},
            ],
        }

    with TestClient(create_app()) as client:
        client.post("/api/v1/projects", json={"slug": "bench", "name": "Bench"}, headers=headers)
        base = "/api/v1/projects/bench/workflows"
        for i in range(args.n):
            timed("validate", "POST", "/api/v1/workflows/validate", json=doc(i))
            timed("create", "POST", base, json=doc(i))
            spec = timed("read", "GET", f"{base}/wf-{i}").json()["spec"] | {"description": "updated"}
            timed("update (If-Match)", "PUT", f"{base}/wf-{i}", json=spec, headers={"If-Match": '"1"'})
            timed("move node", "PUT", f"{base}/wf-{i}/nodes/ok/position", json={"x": i, "y": 1},
                  headers={"If-Match": '"2"'})
            timed("export yaml", "GET", f"{base}/wf-{i}/export?format=yaml")
            timed("list page (50)", "GET", "/api/v1/workflows?project=bench&limit=50")

    print(f"Workflow Builder API, in-process, {get_settings().database_url.split(':')[0]}, n={args.n}")
    print(f"{'operation':<20}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in timings.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"{name:<20}{statistics.median(values):>10.1f}{p95:>10.1f}{values[-1]:>10.1f}")


if __name__ == "__main__":
    main()
