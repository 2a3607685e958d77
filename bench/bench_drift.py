"""Drift of the served severity model: an in-distribution stream, then newer and shifted ones, through the API.

    .venv/bin/python bench/bench_drift.py [--batch 50] [--seed 0]

What it does, in one throw-away state dir (SQLite app DB, SQLite MLflow store):

1. The shared advisories of the Ruby and Rust ecosystems (bundler-audit and
   cargo-audit findings): the newest fifth is kept apart, the older ones are
   shuffled and cut into training rows, a holdout and an unseen
   in-distribution stream.  The linear candidate
   (``ml.training.fit_candidate``) is fitted on the training rows and
   registered the way the retrain does it: the model on a candidate run, the
   holdout on the training run, the version tagged with ``training.run_id``,
   alias ``champion``.  So the drift reference is built by the real path
   (:func:`ml.drift_watch.reference_for`: from that holdout, stored on the
   version's run).
2. Each stream is posted in batches to the platform API
   (``POST /api/v1/projects/bench/predictions/severity/batch``, in process
   with FastAPI's test client: routes, auth, serving, the drift window), the
   window is flushed, and :func:`ml.drift_watch.check_drift` (the drift DAG's
   check) judges it: the report goes to the app DB (what the API and the
   dashboard show) and to MLflow metrics on the version's run.  The window is
   emptied between the streams, so each report is one stream's.
3. Streams: ``in-distribution`` (unseen Ruby and Rust advisories of the
   same years), ``newest`` (the newest Ruby and Rust advisories: same tools,
   later time) and ``shifted`` (npm advisories: another audit tool, lock
   file and vocabulary, which the model never saw).

Prints, per stream, the status, the largest PSI and the PSI and Jensen-Shannon
distance of every feature; then the MLflow metric history, what the API's
drift endpoint answers and what the live dashboard's drift panel reads (a
sidecar started on the bench's state, ``GET /api/drift``); and what recording
costs a request.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TRAIN_ECOSYSTEMS = ("rubygems", "ruby-core", "crates.io")
SHIFTED_ECOSYSTEM = "npm"
#: The newest share of the Ruby/Rust advisories, served as the ``newest`` stream (time the model never saw).
NEWEST_SHARE = 0.2


def streams(seed: int) -> dict[str, list[dict]]:
    """Training rows, holdout and the three served streams, as labelled API records.

    The Ruby/Rust advisories are taken oldest first (``load_advisories``
    sorts them): the newest :data:`NEWEST_SHARE` are the ``newest`` stream,
    the rest are shuffled into training rows, holdout and ``in-distribution``.
    """
    import random

    from ml.ingest import advisory_records, load_advisories

    advisories = load_advisories()
    records = advisory_records(advisories)
    for record, ecosystem in zip(records, advisories["ecosystem"], strict=True):
        record["_ecosystem"] = ecosystem
    seen = [r for r in records if r["_ecosystem"] in TRAIN_ECOSYSTEMS]  # oldest first
    cut = round(len(seen) * (1 - NEWEST_SHARE))
    older, newest = seen[:cut], seen[cut:]
    random.Random(seed).shuffle(older)
    half, three_quarters = len(older) // 2, len(older) * 3 // 4
    return {"train": older[:half], "holdout": older[half:three_quarters], "in-distribution": older[three_quarters:],
            "newest": newest, "shifted": [r for r in records if r["_ecosystem"] == SHIFTED_ECOSYSTEM]}


def register(parts: dict[str, list[dict]], state: Path) -> str:
    """Fit the linear candidate, log it and its holdout like the retrain, alias champion; returns the version."""
    import mlflow
    from mlflow import MlflowClient

    from include.settings import get_settings
    from ml.features import issues_frame
    from ml.training import fit_candidate

    def frame(rows):
        f = issues_frame(rows)
        f["label"] = [r["label"] for r in rows]
        return f

    t0 = time.perf_counter()
    pipeline = fit_candidate("linear", frame(parts["train"]))
    print(f"trained linear on {len(parts['train'])} Ruby/Rust advisories in {time.perf_counter() - t0:.1f}s")
    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    client = MlflowClient(uri, uri)
    name = settings.severity_model_name
    exp = client.create_experiment("bench-drift", artifact_location=(state / "mlartifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    holdout_path = state / "holdout.parquet"
    frame(parts["holdout"]).to_parquet(holdout_path, index=False)
    with mlflow.start_run(experiment_id=exp, run_name="bench training") as parent:
        mlflow.log_artifact(str(holdout_path), artifact_path="holdout")
        with mlflow.start_run(experiment_id=exp, run_name="linear", nested=True):
            info = mlflow.sklearn.log_model(pipeline, name="model", serialization_format="cloudpickle",
                                            pip_requirements=["scikit-learn"])
    version = mlflow.register_model(info.model_uri, name, tags={"training.run_id": parent.info.run_id}).version
    client.set_registered_model_alias(name, "champion", version)
    return str(version)


def serve(client, headers: dict, rows: list[dict], batch: int) -> None:
    for start in range(0, len(rows), batch):
        issues = [{k: v for k, v in r.items() if k not in ("label", "_ecosystem", "repository")}
                  for r in rows[start:start + batch]]
        answer = client.post("/api/v1/projects/bench/predictions/severity/batch", headers=headers,
                             json={"repository": "bench/app", "issues": issues})
        answer.raise_for_status()


def recording_cost(rows: list[dict]) -> None:
    """What the request pays (observe: an append) and what the background thread pays per prediction (profile)."""
    from ml.drift import profile_records
    from ml.serving.drift_window import DriftWindow

    window = DriftWindow(interval=3600)
    answers = [("high", 0.5)]
    window.observe("m", "1", rows[:1], answers)  # the first call starts the background thread
    times = []
    for r in (rows * 3)[:1000]:
        t0 = time.perf_counter()
        window.observe("m", "1", [r], answers)
        times.append(time.perf_counter() - t0)
    times.sort()
    t0 = time.perf_counter()
    profile_records(rows, [("high", 0.5)] * len(rows))
    per_record = (time.perf_counter() - t0) / len(rows)
    print(f"recording: observe() per request p50 {times[len(times) // 2] * 1e6:.1f} µs, "
          f"p99 {times[int(len(times) * 0.99)] * 1e6:.1f} µs (on the request); profiling "
          f"{per_record * 1e6:.1f} µs per prediction (background thread)")


def free_bench_port() -> int:
    """A free port in the range this project's benches and tests may use."""
    import socket

    for port in range(18600, 18700):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18600-18699")


def dashboard_answer(headers: dict) -> dict:
    """What the live dashboard's drift panel reads: ``GET /api/drift`` on a sidecar started on the bench's state."""
    import subprocess

    import httpx

    port = free_bench_port()
    env = {**os.environ, "AUTOPR_DASHBOARD_PORT": str(port), "AUTOPR_DASHBOARD_HOST": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "dashboard_server"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard sidecar did not start on port {port}")
            time.sleep(0.3)
        answer = httpx.get(url + "/api/drift", headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=50, help="issues per prediction request")
    parser.add_argument("--seed", type=int, default=0, help="shuffle of the Ruby/Rust advisories")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    os.environ["AUTOPR_STATE_DIR"] = str(state)
    for key in [k for k in os.environ if k.startswith("AUTOPR_") and k != "AUTOPR_STATE_DIR"]:
        del os.environ[key]  # the bench's own stores, whatever the shell has set
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{state / 'mlflow.db'}"
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"

    from fastapi.testclient import TestClient
    from sqlalchemy import delete

    from include.api.app import create_app
    from include.auth.tokens import mint_token
    from include.db.migrate import upgrade
    from include.db.models import MLDriftWindow, Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role
    from include.settings import get_settings
    from ml.drift import FEATURES
    from ml.drift_watch import check_drift, latest_reports
    from ml.serving.drift_window import get_window

    settings = get_settings()
    upgrade(settings.database_url)
    with session_scope() as s:
        p = Project(slug="bench", name="Bench")
        s.add(p)
        s.flush()
        s.add(ProjectMember(project_id=p.id, username="bench-user", role=Role.viewer))
    parts = streams(args.seed)
    version = register(parts, state)
    print(f"served: {settings.severity_model_name} v{version} (champion); drift threshold PSI "
          f"{settings.drift_psi_threshold}, at least {settings.drift_min_predictions} predictions, "
          f"window {settings.drift_window_hours} h")
    headers = {"Authorization": f"Bearer {mint_token('bench-user')}"}
    reports = {}
    with TestClient(create_app()) as client:
        for stream in ("in-distribution", "newest", "shifted"):
            with session_scope() as s:
                s.execute(delete(MLDriftWindow))  # each report judges one stream alone
            t0 = time.perf_counter()
            serve(client, headers, parts[stream], args.batch)
            get_window().flush()
            served = time.perf_counter() - t0
            t0 = time.perf_counter()
            reports[stream] = check_drift()
            print(f"{stream}: {len(parts[stream])} predictions served in {served:.1f}s, checked in "
                  f"{time.perf_counter() - t0:.1f}s")
        shown = client.get("/api/v1/predictions/drift", headers=headers).json()

    print()
    print(f"{'feature':<20}" + "".join(f"{s + ' PSI':>22}{'JS':>7}" for s in reports))
    for feature in FEATURES:
        cells = []
        for r in reports.values():
            f = r["features"].get(feature, {})
            cells.append(f"{f.get('psi', float('nan')):>22.3f}{f.get('js', float('nan')):>7.3f}")
        print(f"{feature:<20}" + "".join(cells))
    for stream, r in reports.items():
        print(f"{stream}: status {r['status']}, max PSI {r['max_psi']:.3f} on {r['worst_feature']}, "
              f"drifted features: {', '.join(r['drifted_features']) or 'none'} ({r['predictions']} predictions)")

    from mlflow import MlflowClient

    mlflow_client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)
    mv = mlflow_client.get_model_version(settings.severity_model_name, version)
    history = mlflow_client.get_metric_history(mv.run_id, "drift_max_psi")
    print(f"MLflow: drift_max_psi on run {mv.run_id[:8]} of v{version}: "
          f"{[round(m.value, 3) for m in history]}; version tag drift.status = {mv.tags.get('drift.status')}")
    print(f"API GET /api/v1/predictions/drift: latest status {shown['latest']['status']}, "
          f"{len(shown['reports'])} reports")
    with session_scope() as s:
        assert latest_reports(s, settings.severity_model_name, 1)[0]["status"] == reports["shifted"]["status"]
    panel = dashboard_answer(headers)
    latest = panel["latest"]
    print(f"dashboard GET /api/drift (the Model drift panel): {latest['model_name']} v{latest['model_version']} "
          f"{latest['status']}, max PSI {latest['max_psi']:.3f} on {latest['worst_feature']}; trend "
          f"{[round(r['max_psi'], 3) for r in reversed(panel['reports'])]}")
    recording_cost(parts["shifted"])


if __name__ == "__main__":
    main()
