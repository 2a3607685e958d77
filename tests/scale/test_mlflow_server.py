"""MLflow for several hosts: one tracking server on PostgreSQL, artifacts through it, clients over HTTP.

The server is the platform's own ``mlflow`` role (``include/launcher/roles.py``)
started with a fresh PostgreSQL backend store and an artifacts destination
of its own.  The retrain code path the ``ml_retrain`` DAG runs (gate → train →
promote) and then serving (``ml/serving/``, by alias) each run in a
separate process that knows the server only by its ``http://`` URI, as an API
server or a Celery worker on another host would: its working directory and
state dir are elsewhere and, where the kernel lets us (``unshare -m``), the
server's directory is hidden from it behind an empty tmpfs, so a client that
still wrote or read artifact files by path would fail instead of passing by
accident.  Every artifact URI the clients get back is ``mlflow-artifacts:/``.
Last, the server is stopped under a running task's first MLflow call and
started again: the task waits it out instead of failing.

The unit tests pin the two configuration bugs the multi-host set-up tripped
over: an ``s3://`` artifact root coerced into a local ``file://`` path, and
an ``http://`` tracking URI handed to the server as its backend store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, REPO_ROOT
from tests.support.ports import free_port

SERVER_START_TIMEOUT = 180.0


# ------------------------------------------------------------------------------------------
# Unit: configuration
# ------------------------------------------------------------------------------------------
@pytest.fixture()
def bare(monkeypatch, tmp_path):
    """No AUTOPR_MLFLOW_* variables from the session: each test says what it sets."""
    for key in list(os.environ):
        if key.startswith("AUTOPR_MLFLOW_"):
            monkeypatch.delenv(key)
    return tmp_path


def test_s3_artifact_root_is_passed_through_unchanged(bare):
    import mlflow

    from include.launcher.preflight import directories
    from include.launcher.roles import _mlflow_argv
    from include.settings import load_settings
    from ml.registry import EXPERIMENT_NAME, configure, experiment_artifact_location

    root = "s3://bucket/prefix"
    settings = load_settings(_env_file=None, state_dir=bare / "state", mlflow_artifact_root=root,
                             mlflow_tracking_uri=f"sqlite:///{bare / 'mlflow.db'}")
    assert experiment_artifact_location(settings) == root
    assert experiment_artifact_location(settings, "autopr-helpfulness") == f"{root}/autopr-helpfulness"
    # a real store: the experiment the retrain task creates keeps the object store root as given
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    try:
        client, experiment_id = configure(settings)
        assert client.get_experiment(experiment_id).artifact_location == root
        assert client.get_experiment_by_name(EXPERIMENT_NAME).experiment_id == experiment_id
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    assert not any("s3:" in str(folder) for _, folder in directories(settings))  # nothing local to create

    # the server names it as the default root when it does not serve artifacts, or serves from it when it does
    without = _mlflow_argv(settings.model_copy(update={"mlflow_serve_artifacts": False}))
    assert without[without.index("--default-artifact-root") + 1] == root and "--no-serve-artifacts" in without
    served = _mlflow_argv(settings.model_copy(update={"mlflow_artifacts_destination": root}))
    assert served[served.index("--artifacts-destination") + 1] == root and "--serve-artifacts" in served
    assert "--default-artifact-root" not in served  # new experiments get mlflow-artifacts:/, proxied


def test_http_tracking_uri_is_never_a_backend_store(bare, monkeypatch):
    from include.launcher.roles import _mlflow_argv, _mlflow_url
    from include.settings import SettingsError, load_settings

    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    settings = load_settings(_env_file=None, state_dir=bare / "state")
    assert settings.mlflow_tracking_uri == "http://mlflow.internal:5000"
    assert settings.mlflow_backend_store_uri == f"sqlite:///{bare / 'state' / 'mlflow.db'}"
    argv = _mlflow_argv(settings)
    assert argv[argv.index("--backend-store-uri") + 1] == settings.mlflow_backend_store_uri
    assert not any(arg.startswith("http") for arg in argv)

    for bad in ("http://mlflow.internal:5000", "HTTPS://mlflow.internal"):
        monkeypatch.setenv("AUTOPR_MLFLOW_BACKEND_STORE_URI", bad)
        with pytest.raises(SettingsError) as err:
            load_settings(_env_file=None, state_dir=bare / "state")
        assert "AUTOPR_MLFLOW_BACKEND_STORE_URI" in str(err.value)
    monkeypatch.delenv("AUTOPR_MLFLOW_BACKEND_STORE_URI")

    # the bind host is a setting; the health check reaches a wildcard bind over loopback
    monkeypatch.setenv("AUTOPR_MLFLOW_HOST", "0.0.0.0")
    settings = load_settings(_env_file=None, state_dir=bare / "state", mlflow_port=5123)
    assert _mlflow_argv(settings)[_mlflow_argv(settings).index("--host") + 1] == "0.0.0.0"
    assert _mlflow_url(settings) == "http://127.0.0.1:5123"


def test_one_machine_default_and_either_store_setting_alone(bare):
    from include.launcher.roles import _mlflow_argv
    from include.settings import load_settings

    state = bare / "state"
    default = load_settings(_env_file=None, state_dir=state)
    sqlite = f"sqlite:///{state / 'mlflow.db'}"
    assert default.mlflow_backend_store_uri == default.mlflow_tracking_uri == sqlite  # tasks and server share it
    argv = _mlflow_argv(default)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--artifacts-destination") + 1] == str(state / "mlartifacts")

    pg = "postgresql://mlflow@db.internal/mlflow"
    assert load_settings(_env_file=None, state_dir=state, mlflow_backend_store_uri=pg).mlflow_tracking_uri == pg
    assert load_settings(_env_file=None, state_dir=state, mlflow_tracking_uri=pg).mlflow_backend_store_uri == pg


# ------------------------------------------------------------------------------------------
# Integration: the server role on PostgreSQL, clients in other processes over HTTP
# ------------------------------------------------------------------------------------------
def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture()
def mlflow_server(tmp_path_factory):
    """The ``mlflow`` role on a fresh PostgreSQL database; yields (url, server directory, artifacts, its Service)."""
    from include.launcher.roles import ROLES, service_for
    from include.settings import load_settings

    name = f"autopr_mlflow_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    server_dir = tmp_path_factory.mktemp("mlflow-server")
    artifacts = server_dir / "artifacts"
    port = free_port()
    settings = load_settings(
        _env_file=None, state_dir=server_dir / "state", mlflow_port=port, mlflow_host="127.0.0.1",
        mlflow_backend_store_uri=PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
        mlflow_artifacts_destination=str(artifacts),
        # the name other hosts would use for it (a compose service, a DNS name), beside the loopback
        mlflow_allowed_hosts=f"127.0.0.1:{port},mlflow.internal:{port}",
    )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPR_", "MLFLOW_", "AIRFLOW"))}
    service = service_for("mlflow", settings, base_env)
    service.start()
    try:
        _wait_healthy(service)
        yield ROLES["mlflow"].url(settings), server_dir, artifacts, service
    finally:
        service.stop()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_healthy(service) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not service.check_health():
        assert service.running, f"mlflow server exited:\n{service.tail(60)}"
        assert time.monotonic() < deadline, f"mlflow server not healthy in time:\n{service.tail(60)}"
        time.sleep(0.5)


def _can_hide(path: Path) -> bool:
    """Whether a child process can be started with ``path`` covered by an empty tmpfs (a private mount namespace)."""
    try:
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                'mount -t tmpfs none "$0" && test -z "$(ls -A "$0")"', str(path)],
                               capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _client_argv(code: str, hide: Path | None) -> list[str]:
    """A fresh Python process running ``code``, with ``hide`` (the server's directory) covered when possible."""
    argv = [sys.executable, "-c", textwrap.dedent(code)]
    if hide is not None:
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs none "$0" && exec "$@"', str(hide), *argv]
    return argv


def _client(code: str, *, env: dict[str, str], cwd: Path, hide: Path | None) -> dict:
    """Run ``code`` in a client process; its last line of output is JSON."""
    result = subprocess.run(_client_argv(code, hide), env=env, cwd=cwd, capture_output=True, text=True, timeout=900,
                            check=False)
    assert result.returncode == 0, f"client process failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


RETRAIN = """
    import json
    from ml.registry import CHALLENGER, MODEL_NAME, configure, promote_challenger
    from ml.retrain import new_labelled_rows, retrain

    # the ml_retrain DAG's three tasks, in order
    counts = new_labelled_rows()
    assert counts["new_labelled_rows"] >= counts["min_new_rows"] > 0, counts
    summary = retrain(airflow_run_id="manual__mlflow_server")
    client, experiment_id = configure()
    challenger = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    promotion = promote_challenger(summary["holdout_path"], airflow_run_id="manual__mlflow_server")
    print(json.dumps({
        "version": summary["version"], "run_id": summary["run_id"], "challenger": str(challenger.version),
        "promoted": promotion["promoted"], "gate_after": new_labelled_rows()["new_labelled_rows"],
        "experiment_location": client.get_experiment(experiment_id).artifact_location,
        "run_artifact_uri": client.get_run(summary["run_id"]).info.artifact_uri,
        "candidate_uris": [client.get_run(c["run_id"]).info.artifact_uri for c in summary["candidates"].values()],
        "download_uri": client.get_model_version_download_uri(MODEL_NAME, challenger.version),
    }))
"""

SERVE = """
    import json
    from ml import serving
    from ml.registry import MODEL_NAME

    service = serving.get_service()
    loaded = service.cache.get(MODEL_NAME, "challenger")
    predictions = serving.predict_issues(
        [{"message": "Remote code execution via crafted YAML", "rule": "vulnerable-dependency/npm",
          "analyzer": "npm-audit", "file_path": "package-lock.json"},
         {"message": "Regular expression denial of service", "rule": "vulnerable-dependency/pypi",
          "analyzer": "pip-audit", "file_path": "requirements.txt"}],
        "org/service")
    service.log.flush()
    champion = service.cache.get(MODEL_NAME, "champion")
    print(json.dumps({"challenger": loaded.version, "champion": champion.version,
                      "compiled": loaded.fast is not None, "predictions": predictions}))
"""

WHILE_DOWN = """
    import json, socket
    from urllib.parse import urlparse
    from include.settings import get_settings
    from ml.registry import CHAMPION, alias_version, configure

    where = urlparse(get_settings().mlflow_tracking_uri)
    with socket.socket() as probe:
        refused_first = probe.connect_ex((where.hostname, where.port)) != 0
    open("server-was-down", "w").close()  # tells the test to bring the server back
    client, _ = configure()  # what every retrain/promote task does first
    print(json.dumps({"champion": str(alias_version(client, CHAMPION).version), "refused_first": refused_first}))
"""


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_retrain_and_serving_over_http_with_artifacts_through_the_server(db, pg_url, mlflow_server, tmp_path):
    from mlflow import MlflowClient

    from include.db.models import Project
    from include.db.session import session_scope
    from ml.export import export_once
    from ml.ingest import ingest_advisories, load_advisories

    url, server_dir, artifacts, server = mlflow_server
    assert url.startswith("http://")
    # the server answers to the names it was told other hosts use, and refuses the rest (DNS rebinding)
    port = url.rsplit(":", 1)[1]
    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    assert httpx.get(search, headers={"Host": f"mlflow.internal:{port}"}, timeout=10).status_code == 200
    assert httpx.get(search, headers={"Host": f"elsewhere.example:{port}"}, timeout=10).status_code == 403

    # the exported dataset the retrain task reads (a class-stratified sample, as tests/ml does)
    with session_scope() as s:
        s.add(Project(slug="acme", name="Acme"))
    frame = load_advisories()
    sample = frame.sample(frac=1.0, random_state=1).groupby("severity").head(45)
    with session_scope() as s:
        ingest_advisories(s, "acme", sample.sort_values("published").reset_index(drop=True))
    client_dir = tmp_path / "worker"
    version = export_once(db, client_dir / "datasets")
    assert version is not None and version.labelled_rows == len(sample)

    # a worker elsewhere: nothing of the server's but its URL
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPR_", "MLFLOW_", "AIRFLOW"))}
    env.update({
        "PYTHONPATH": str(REPO_ROOT),
        "HOME": str(client_dir),
        "MPLBACKEND": "Agg",
        "AUTOPR_STATE_DIR": str(client_dir / "state"),
        "AUTOPR_DATASET_DIR": str(client_dir / "datasets"),
        "AUTOPR_RETRAIN_MIN_NEW_ROWS": "20",
        "AUTOPR_MLFLOW_TRACKING_URI": url,
    })
    hide = server_dir if _can_hide(server_dir) else None
    started = time.monotonic()
    trained = _client(RETRAIN, env=env, cwd=client_dir, hide=hide)
    retrain_seconds = time.monotonic() - started
    assert trained["challenger"] == trained["version"] and trained["promoted"] is True
    assert trained["gate_after"] == 0  # the server remembers what the last training used
    for key in ("experiment_location", "run_artifact_uri", "download_uri"):
        assert trained[key].startswith("mlflow-artifacts:/"), (key, trained[key])
    assert all(uri.startswith("mlflow-artifacts:/") for uri in trained["candidate_uris"])
    # the artifacts landed where the server keeps them, and nothing on the worker's side
    assert list(artifacts.rglob("MLmodel")), "no model files in the server's artifacts destination"
    assert not list(client_dir.rglob("MLmodel")) and not (client_dir / "mlruns").exists()
    assert not (client_dir / "state" / "mlartifacts").exists() and not (client_dir / "mlflow.db").exists()

    # serving, in yet another process, loads the registered challenger by alias and predicts
    serve_env = {**env, "AUTOPR_DATABASE_URL": pg_url, "AUTOPR_AB_CHALLENGER_SHARE": "1.0"}
    served = _client(SERVE, env=serve_env, cwd=client_dir, hide=hide)
    assert served["challenger"] == served["champion"] == trained["version"]
    assert [p["model_version"] for p in served["predictions"]] == [trained["version"]] * 2
    assert {p["arm"] for p in served["predictions"]} == {"challenger"}
    assert all(p["severity"] in {"info", "low", "medium", "high", "critical"} for p in served["predictions"])
    with db.connect() as conn:
        logged = conn.execute(text("SELECT count(*) FROM ml_predictions WHERE model_version = :v"),
                              {"v": trained["version"]}).scalar_one()
    assert logged == 2

    # and the server answers for it: the registered version's lineage, seen from here over HTTP
    remote = MlflowClient(tracking_uri=url, registry_uri=url)
    mv = remote.get_model_version("autopr-severity", trained["version"])
    assert mv.tags["promotion.decision"] == "promoted" and mv.tags["dataset.hash"] == version.hash

    # a server restart does not fail a task: its MLflow calls wait (client retries with back-off) until it is back
    server.stop()
    waiting = subprocess.Popen(_client_argv(WHILE_DOWN, hide), env=env, cwd=client_dir, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (client_dir / "server-was-down").exists():  # the task is running and found the server gone
            assert waiting.poll() is None and time.monotonic() < deadline, waiting.communicate()
            time.sleep(0.2)
        time.sleep(2)  # its first MLflow request has been refused
        server.start()
        _wait_healthy(server)
        out, err = waiting.communicate(timeout=300)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, f"task failed while the server restarted:\n{err[-6000:]}"
    assert json.loads(out.strip().splitlines()[-1]) == {"champion": trained["version"], "refused_first": True}
    print(f"retrain over HTTP {retrain_seconds:.1f}s; server files hidden from clients: {hide is not None}")
