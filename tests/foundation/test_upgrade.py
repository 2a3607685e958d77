"""Upgrades keep state: a newer checkout's init step on an older state directory (issue 12, item 5).

An older state directory is built for real in ``tmp_path``, the way an older
checkout left it:

* the app database (SQLite, the default ``<state>/autopr.db``) migrated only to
  the first Alembic revision, with a project, a workflow with two versions, a
  review session with issues, feedback and execution events written in plain
  SQL against that revision's schema (the newer models are not used to write
  them: an older checkout never had them);
* Airflow's metadata database (SQLite in ``<state>/airflow``, the launcher's
  default) migrated by the real CLI to Airflow 3.0.0's schema
  (``airflow db migrate -n 3.0.0``), holding a connection and a variable;
* an MLflow tracking store with a registered model version and its
  ``champion`` alias.

Then the newer init step (``include.launcher.platform.prepare``) runs on it,
and everything must still be there: both databases at head, every row with the
same values, the connection and variable readable through Airflow's CLI (so the
Fernet key survived too), the champion model loading and predicting as before,
and the same admin login.  A second init changes nothing.

The connection and variable are written in SQL, not with ``airflow connections
add``: only Airflow 3.3.2 is installed, and its CLI refuses a 3.0.0 database
("Database migration required"); with that check off its ORM writes
``team_name``, a column that only exists from 3.2.0.  The rows are written the
way Airflow 3.0.0 writes them: password, extra and value Fernet-encrypted with
the key in the state directory's ``airflow.cfg``, the ``is_encrypted`` flags
set.  Reading them back goes through the real 3.3.2 CLI.
"""

from __future__ import annotations

import configparser
import json
import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from include.launcher.airflow_env import airflow_env, write_admin_password
from include.settings import Settings, load_settings

pytestmark = pytest.mark.integration

FIRST_APP_REVISION = "0001"
OLD_AIRFLOW = "3.0.0"
AIRFLOW_CLI = Path(sys.executable).parent / "airflow"  # the venv's, as the launcher runs it
ALIAS = "champion"

# Datetimes exactly as SQLAlchemy's DateTime(timezone=True) stores them on SQLite: naive UTC digits.
T0, T1, T2, T3 = (f"2026-11-{day} {hour}:00:00.000000" for day, hour in (("02", "08"), ("10", "09"), ("18", "16"),
                                                                          ("21", "09")))

SPEC_V1 = {"name": "PR review", "trigger": {"type": "pull_request"},
           "steps": [{"id": "lint", "action": "ruff", "config": {"select": ["E", "F"]}}]}
SPEC_V2 = {"name": "PR review", "trigger": {"type": "pull_request"},
           "steps": [{"id": "lint", "action": "ruff", "config": {"select": ["E", "F", "B"]}},
                     {"id": "security", "action": "bandit", "depends_on": ["lint"]}]}

# Rows of revision 0001's schema, column -> stored value, in insertion (foreign key) order.
# The demo project and its admin member are what the older checkout's seed created; the team
# then edited the project's description, which the newer seed must not put back.
OLD_APP_ROWS: dict[str, list[dict]] = {
    "projects": [
        {"id": 1, "slug": "demo", "name": "Demo project", "description": "Edited by the team: keep this text.",
         "created_at": T0},
        {"id": 2, "slug": "payments", "name": "Payments", "description": "Card and wallet services",
         "created_at": T1},
    ],
    "project_members": [
        {"id": 1, "project_id": 1, "username": "admin", "role": "admin", "created_at": T0},
        {"id": 2, "project_id": 2, "username": "alice", "role": "editor", "created_at": T1},
    ],
    # A user's own template with a built-in template's slug: seeding the built-ins must leave it alone.
    "workflow_templates": [
        {"id": 1, "slug": "pr-review-automation", "name": "Alice's PR review", "description": "my private copy",
         "category": "review", "spec": json.dumps(SPEC_V1), "is_public": 0, "created_by": "alice", "created_at": T1},
    ],
    "workflows": [
        {"id": 1, "project_id": 2, "slug": "pr-review", "name": "PR review", "description": "Lint and review every PR",
         "enabled": 1, "current_version": 2, "revision": 3, "created_by": "alice", "created_at": T1,
         "updated_at": T2, "deleted_at": None},
    ],
    "workflow_versions": [
        {"id": 1, "workflow_id": 1, "version": 1, "spec": json.dumps(SPEC_V1), "comment": "first version",
         "created_by": "alice", "created_at": T1},
        {"id": 2, "workflow_id": 1, "version": 2, "spec": json.dumps(SPEC_V2), "comment": "add bandit",
         "created_by": "alice", "created_at": T2},
    ],
    "review_sessions": [
        {"id": 1, "project_id": 2, "workflow_id": 1, "workflow_version": 2, "source": "workflow",
         "repository": "acme/payments", "ref": "refs/pull/42/head", "commit_sha": "0123456789abcdef" * 2 + "01234567",
         "pr_number": 42, "dag_id": "autopr__payments__pr-review", "run_id": "manual__2026-11-21T09:00:00+00:00",
         "status": "completed", "stats": json.dumps({"issues": 3, "by_severity": {"high": 1, "low": 2}}),
         "created_at": T3},
    ],
    "review_issues": [
        {"id": 1, "session_id": 1, "file_path": "src/payments/card.py", "line": 17, "rule": "B105",
         "analyzer": "bandit", "severity": "high", "message": "Possible hardcoded password: 'hunter2'",
         "confidence": 0.875, "predicted_severity": "critical", "model_version": "3",
         "context": json.dumps({"snippet": "PASSWORD = 'hunter2'"}), "created_at": T3},
        {"id": 2, "session_id": 1, "file_path": "src/payments/wallet.py", "line": 3, "rule": "F401",
         "analyzer": "ruff", "severity": "low", "message": "'os' imported but unused", "confidence": 1.0,
         "predicted_severity": None, "model_version": None, "context": json.dumps({}), "created_at": T3},
        {"id": 3, "session_id": 1, "file_path": "README.md", "line": None, "rule": "MD013", "analyzer": "markdown",
         "severity": "low", "message": "Line length", "confidence": 0.5, "predicted_severity": "info",
         "model_version": "3", "context": json.dumps({"limit": 80}), "created_at": T3},
    ],
    "ml_feedback": [
        {"id": 1, "issue_id": 1, "feedback_type": "good_catch", "corrected_severity": None, "username": "alice",
         "comment": "", "created_at": T3},
        {"id": 2, "issue_id": 3, "feedback_type": "false_positive", "corrected_severity": "info",
         "username": "bob", "comment": "docs are exempt", "created_at": T3},
    ],
    # Event ids are what dashboard clients replay from: they must survive unchanged.
    "execution_events": [
        {"id": 41, "event_key": "dag_run:autopr__payments__pr-review:manual__1:running", "event_type": "dag_run",
         "project": "payments", "dag_id": "autopr__payments__pr-review", "run_id": "manual__1", "task_id": None,
         "map_index": -1, "try_number": 0, "state": "running", "payload": json.dumps({"note": "started"}),
         "occurred_at": T3, "created_at": T3},
        {"id": 42, "event_key": "ti:autopr__payments__pr-review:manual__1:lint:-1:1:success",
         "event_type": "task_instance", "project": "payments", "dag_id": "autopr__payments__pr-review",
         "run_id": "manual__1", "task_id": "lint", "map_index": -1, "try_number": 1, "state": "success",
         "payload": json.dumps({"duration": 4.25}), "occurred_at": T3, "created_at": T3},
        {"id": 43, "event_key": "dag_run:autopr__payments__pr-review:manual__1:success", "event_type": "dag_run",
         "project": "payments", "dag_id": "autopr__payments__pr-review", "run_id": "manual__1", "task_id": None,
         "map_index": -1, "try_number": 0, "state": "success", "payload": json.dumps({}), "occurred_at": T3,
         "created_at": T3},
    ],
}

CONNECTION = {"conn_id": "upgrade_probe", "conn_type": "http", "host": "api.example.invalid", "schema": "https",
              "login": "probe", "password": "s3cret-kept", "port": 8443, "extra": {"verify": False, "timeout": 30},
              "description": "made by the older checkout"}
VARIABLE = {"key": "upgrade_probe_var", "val": json.dumps({"kept": True, "threshold": 0.3}),
            "description": "made by the older checkout"}


def _base_env() -> dict[str, str]:
    """The environment a user's shell gives ``./autopr run``: none of the test session's AIRFLOW__/AUTOPR_ settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW__", "AUTOPR_"))}


def _settings(state: Path) -> Settings:
    """Settings for the temporary state dir; every value the test session's environment sets is given explicitly."""
    return load_settings(
        state_dir=state, database_url=f"sqlite:///{state / 'autopr.db'}", workflows_dir=state / "workflows",
        dataset_dir=state / "datasets", mlflow_tracking_uri=f"sqlite:///{state / 'mlflow.db'}",
        mlflow_artifact_root=str(state / "mlartifacts"), jwt_secret="", admin_password="", admin_username="admin",
        redis_url=None, airflow_database_url=None, airflow_executor="LocalExecutor",
        airflow_api_username="", airflow_api_password="",
    )


def _airflow(settings: Settings, base_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The real Airflow CLI with the launcher's environment for this state dir."""
    return subprocess.run([str(AIRFLOW_CLI), *args], env=airflow_env(settings, base_env), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300, check=False)


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _sqlite_path(url: str) -> Path:
    assert url.startswith("sqlite:///"), url
    return Path(url.removeprefix("sqlite:///"))


@contextmanager
def _db(path: Path):
    conn = sqlite3.connect(path)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def _rows(path: Path, table: str, columns: list[str]) -> list[dict]:
    with _db(path) as conn:
        cur = conn.execute(f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY id')
        return [dict(zip(columns, row)) for row in cur.fetchall()]


def _dump(path: Path, skip: tuple[str, ...] = ()) -> dict[str, list]:
    """Schema and every row of every table (but ``skip``): what "nothing changed" compares."""
    with _db(path) as conn:
        schema = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(), key=repr)
        dump: dict[str, list] = {"<schema>": schema}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            if table not in skip:
                dump[table] = sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
    return dump


def _alembic_version(path: Path) -> list[str]:
    with _db(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version").fetchall()]


def _fernet(settings: Settings):
    from cryptography.fernet import Fernet

    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    cfg.read(settings.airflow_home / "airflow.cfg")
    key = cfg.get("core", "fernet_key")
    assert key, "airflow.cfg has no fernet_key: Airflow would store connections unencrypted"
    return Fernet(key.encode())


@contextmanager
def _mlflow_uris(uri: str):
    """MLflow's fluent API pointed at ``uri`` for a moment; the test session's URIs restored after."""
    import mlflow

    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


PROBE_X = [[0.0, 1.0], [1.0, 0.5], [2.0, 0.0], [3.0, -0.5]]


def _register_champion(settings: Settings) -> str:
    """A tiny sklearn model registered under the serving model's name, with the ``champion`` alias."""
    import mlflow.sklearn
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(PROBE_X, [0, 0, 1, 1])
    uri = settings.mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        "upgrade-probe", artifact_location=(Path(settings.mlflow_artifact_root) / "upgrade-probe").as_uri())
    with _mlflow_uris(uri), mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=settings.severity_model_name,
                                        serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
    version = str(info.registered_model_version)
    client.set_registered_model_alias(settings.severity_model_name, ALIAS, version)
    return version


def _champion(settings: Settings) -> tuple[str, str, list[list[float]]]:
    """(version, run id, predictions) of the model the ``champion`` alias points at, loaded through the alias."""
    import mlflow.sklearn
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(
        settings.severity_model_name, ALIAS)
    with _mlflow_uris(uri):
        model = mlflow.sklearn.load_model(f"models:/{settings.severity_model_name}@{ALIAS}")
    return str(version.version), version.run_id, model.predict_proba(PROBE_X).tolist()


def _build_older_state(settings: Settings, base_env: dict[str, str]) -> float:
    """The state dir an older checkout left behind; returns how long ``airflow db migrate -n 3.0.0`` took."""
    from include.db.migrate import upgrade

    settings.airflow_home.mkdir(parents=True)
    write_admin_password(settings)  # the older init's login (also generates admin_password and jwt_secret)

    app_db = _sqlite_path(settings.database_url)
    upgrade(settings.database_url, FIRST_APP_REVISION)
    assert _alembic_version(app_db) == [FIRST_APP_REVISION]
    with _db(app_db) as conn:
        for table, rows in OLD_APP_ROWS.items():
            for row in rows:
                conn.execute(f'INSERT INTO "{table}" ({", ".join(row)}) VALUES ({", ".join("?" * len(row))})',
                             list(row.values()))

    started = time.monotonic()
    _ok(_airflow(settings, base_env, "db", "migrate", "-n", OLD_AIRFLOW))
    old_migrate_seconds = time.monotonic() - started

    fernet = _fernet(settings)
    with _db(settings.airflow_home / "airflow.db") as conn:  # as Airflow 3.0.0's Connection/Variable store them
        conn.execute(
            "INSERT INTO connection (conn_id, conn_type, host, schema, login, password, port, extra, is_encrypted,"
            " is_extra_encrypted, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?)",
            [CONNECTION["conn_id"], CONNECTION["conn_type"], CONNECTION["host"], CONNECTION["schema"],
             CONNECTION["login"], fernet.encrypt(CONNECTION["password"].encode()).decode(), CONNECTION["port"],
             fernet.encrypt(json.dumps(CONNECTION["extra"]).encode()).decode(), CONNECTION["description"]])
        conn.execute("INSERT INTO variable (key, val, description, is_encrypted) VALUES (?, ?, ?, 1)",
                     [VARIABLE["key"], fernet.encrypt(VARIABLE["val"].encode()).decode(), VARIABLE["description"]])
    return old_migrate_seconds


def _airflow_cli_state(settings: Settings, base_env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict, str]:
    """Airflow's own word on the upgraded DB: check-migrations' result, the connection, the variable (CLI, in parallel)."""
    with ThreadPoolExecutor(3) as pool:
        check = pool.submit(_airflow, settings, base_env, "db", "check-migrations", "-t", "1")
        conn = pool.submit(_airflow, settings, base_env, "connections", "get", CONNECTION["conn_id"], "-o", "json")
        var = pool.submit(_airflow, settings, base_env, "variables", "get", VARIABLE["key"])
        [connection] = json.loads(_ok(conn.result()))
        return check.result(), connection, _ok(var.result()).strip()


def _state_files(settings: Settings) -> dict[str, bytes]:
    names = ["admin_password", "jwt_secret", "airflow/passwords.json", "airflow/airflow.cfg"]
    return {name: (settings.state_dir / name).read_bytes() for name in names}


@pytest.fixture()
def state(tmp_path):
    """The temporary state dir; the app's cached engine on its SQLite file is closed afterwards."""
    state = tmp_path / "state"
    yield state
    from include.db.session import get_engine

    get_engine(_settings(state).database_url).dispose()


def test_newer_init_on_an_older_state_dir_keeps_everything(state, capsys):
    """App DB 0001 -> head, Airflow 3.0.0 -> head, MLflow untouched: no row, secret or model lost; twice is once."""
    from airflow.utils.db import _REVISION_HEADS_MAP
    from alembic.script import ScriptDirectory

    from include.db.migrate import alembic_config
    from include.launcher.platform import prepare
    from include.workflows.templates_store import builtin_templates

    settings, base_env = _settings(state), _base_env()
    app_db, airflow_db, mlflow_db = (_sqlite_path(settings.database_url), settings.airflow_home / "airflow.db",
                                     _sqlite_path(settings.mlflow_tracking_uri))
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    assert script.get_base() == FIRST_APP_REVISION  # the rows above are written for the first revision's schema

    # --- the older checkout's state dir
    old_migrate_seconds = _build_older_state(settings, base_env)
    assert _alembic_version(airflow_db) == [_REVISION_HEADS_MAP[OLD_AIRFLOW]], "Airflow's DB is not at 3.0.0's schema"
    with ThreadPoolExecutor(1) as pool:  # the check used below can tell an old DB (runs while MLflow is set up)
        stale_check = pool.submit(_airflow, settings, base_env, "db", "check-migrations", "-t", "1")
        champion_version = _register_champion(settings)
        old_champion = _champion(settings)
        stale = stale_check.result()
    assert stale.returncode != 0 and "unapplied migrations" in stale.stdout + stale.stderr, stale
    assert old_champion[0] == champion_version
    old_connection = _rows(airflow_db, "connection", ["conn_id", "conn_type", "host", "schema", "login", "password",
                                                      "port", "extra", "is_encrypted", "is_extra_encrypted",
                                                      "description"])
    old_variable = _rows(airflow_db, "variable", ["key", "val", "description", "is_encrypted"])
    old_password = (state / "admin_password").read_text().strip()
    old_files = _state_files(settings)
    old_mlflow = _dump(mlflow_db)

    # --- the newer checkout's init step
    progress: list[tuple[float, str]] = []
    started = time.monotonic()
    user, password = prepare(settings, on_progress=lambda msg: progress.append((time.monotonic(), msg)),
                             base_env=base_env)
    finished = time.monotonic()
    airflow_started = next(t for t, msg in progress if "Airflow" in msg)
    timing = (f"airflow db migrate -n {OLD_AIRFLOW} (fresh): {old_migrate_seconds:.1f} s; init step: "
              f"{finished - started:.1f} s, of which airflow db migrate {OLD_AIRFLOW} -> head: "
              f"{finished - airflow_started:.1f} s")
    with capsys.disabled():
        print(f"\n{timing}")

    assert (user, password) == ("admin", old_password), "the upgrade changed the admin login"
    assert _state_files(settings) == old_files, "the upgrade rewrote the state dir's secrets or airflow.cfg"

    # App DB: at head, every old row unchanged; the only new rows are the built-in templates the seed adds.
    assert _alembic_version(app_db) == [script.get_current_head()], timing
    for table, rows in OLD_APP_ROWS.items():
        now = _rows(app_db, table, list(rows[0]))
        if table == "workflow_templates":
            assert now[:len(rows)] == rows, f"{table}: old rows changed"
            added = _rows(app_db, table, ["slug", "created_by", "is_public"])[len(rows):]
            assert sorted(r["slug"] for r in added) == sorted(t["template"]["slug"] for t in builtin_templates())
            assert all(r["created_by"] == "system" and r["is_public"] == 1 for r in added), added
        else:
            assert now == rows, f"{table}: rows lost or changed by the upgrade"

    # Airflow's DB: at head by Airflow's own check; the old rows byte for byte (still encrypted with the
    # same key), and the CLI decrypts them to what was stored.
    migrate_log = (state / "logs" / "airflow-db-migrate.log").read_text()
    assert f"Running upgrade {_REVISION_HEADS_MAP[OLD_AIRFLOW]} ->" in migrate_log, "init did not migrate from 3.0.0"
    check, connection, variable = _airflow_cli_state(settings, base_env)
    assert check.returncode == 0, f"Airflow's DB is not at head after init ({timing}):\n{check.stderr[-3000:]}"
    assert _rows(airflow_db, "connection", list(old_connection[0])) == old_connection
    assert _rows(airflow_db, "variable", list(old_variable[0])) == old_variable
    expected = {key: CONNECTION[key] for key in ("conn_id", "conn_type", "host", "schema", "login", "password",
                                                 "description")}
    assert {key: connection[key] for key in expected} == expected, connection
    # The CLI's table/json output prints every value as text; the stored extra must still decrypt to the exact JSON.
    assert connection["port"] == str(CONNECTION["port"]), connection
    assert connection["extra_dejson"] == {key: str(value) for key, value in CONNECTION["extra"].items()}, connection
    assert json.loads(_fernet(settings).decrypt(old_connection[0]["extra"].encode())) == CONNECTION["extra"]
    assert variable == VARIABLE["val"]

    # MLflow: the store untouched, the champion alias still loads the same model.
    assert _dump(mlflow_db) == old_mlflow
    assert _champion(settings) == old_champion

    # --- a second init is a no-op: same login, same rows, same schemas (Airflow's audit log only gains its entry).
    before = {"app": _dump(app_db), "airflow": _dump(airflow_db, skip=("log",)), "mlflow": _dump(mlflow_db),
              "files": _state_files(settings)}
    with _db(airflow_db) as conn:
        log_rows = conn.execute("SELECT max(id) FROM log").fetchone()[0]
    assert prepare(settings, on_progress=lambda msg: None, base_env=base_env) == (user, password)
    after = {"app": _dump(app_db), "airflow": _dump(airflow_db, skip=("log",)), "mlflow": _dump(mlflow_db),
             "files": _state_files(settings)}
    for part, value in before.items():
        assert after[part] == value, f"the second init changed {part}"
    with _db(airflow_db) as conn:
        new_events = [row[0] for row in conn.execute("SELECT event FROM log WHERE id > ?", [log_rows]).fetchall()]
    assert new_events == ["cli_migratedb"], new_events
    assert _champion(settings) == old_champion
