"""Settings: every default works with nothing set; bad values fail with one line naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.settings import REPO_ROOT, SettingsError, load_settings


@pytest.fixture()
def bare_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("AUTOPR_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_work_with_nothing_set(bare_env):
    s = load_settings(_env_file=None)
    assert s.state_dir == (REPO_ROOT / ".autopr").resolve()
    assert s.database_url == f"sqlite:///{s.state_dir / 'autopr.db'}"
    assert s.mlflow_tracking_uri == f"sqlite:///{s.state_dir / 'mlflow.db'}"
    assert s.redis_url is None  # in-process messaging by default
    assert s.airflow_api_url == "http://127.0.0.1:8080"
    assert s.dashboard_allowed_origins == ["http://localhost:8765", "http://127.0.0.1:8765"]
    assert s.workflows_dir == REPO_ROOT / "dags" / "workflows"
    assert s.airflow_executor == "LocalExecutor"


def test_state_dir_moves_every_local_store(bare_env):
    s = load_settings(_env_file=None, state_dir=bare_env / "st")
    assert s.database_url.endswith(str(bare_env / "st" / "autopr.db"))
    assert s.mlflow_tracking_uri.endswith(str(bare_env / "st" / "mlflow.db"))
    assert s.dataset_dir == bare_env / "st" / "datasets"
    assert s.airflow_home == bare_env / "st" / "airflow"


def test_generated_secrets_are_stable_and_private(bare_env):
    s = load_settings(_env_file=None, state_dir=bare_env)
    first = s.resolved_jwt_secret()
    assert len(first) >= 32 and first == s.resolved_jwt_secret()
    assert ((bare_env / "jwt_secret").stat().st_mode & 0o777) == 0o600
    assert s.resolved_admin_password() == load_settings(_env_file=None, state_dir=bare_env).resolved_admin_password()


def test_origins_from_comma_separated_env(bare_env, monkeypatch):
    monkeypatch.setenv("AUTOPR_DASHBOARD_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    assert load_settings(_env_file=None).dashboard_allowed_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("AUTOPR_DATABASE_URL", "not a url", "AUTOPR_DATABASE_URL"),
        ("AUTOPR_REDIS_URL", "http://localhost:6379", "AUTOPR_REDIS_URL"),
        ("AUTOPR_AIRFLOW_PORT", "99999", "AUTOPR_AIRFLOW_PORT"),
        ("AUTOPR_AIRFLOW_EXECUTOR", "KubernetesExecutor", "AUTOPR_AIRFLOW_EXECUTOR"),
    ],
)
def test_malformed_settings_name_the_variable(bare_env, monkeypatch, env, value, named):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert named in str(err.value)


def _run_command(env_overrides: dict[str, str], tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPR_")}
    env.update({"AUTOPR_STATE_DIR": str(tmp), **env_overrides})
    return subprocess.run([sys.executable, "-m", "include.launcher"], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"AUTOPR_DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/x"}, "AUTOPR_DATABASE_URL"),  # unreachable
        ({"AUTOPR_DATABASE_URL": "::nonsense::"}, "AUTOPR_DATABASE_URL"),  # malformed
        ({"AUTOPR_REDIS_URL": "redis://127.0.0.1:1/0"}, "AUTOPR_REDIS_URL"),  # configured but unreachable
    ],
)
def test_run_command_stops_with_one_clear_line(tmp_path, overrides, named):
    result = _run_command(overrides, tmp_path)
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_preflight_creates_every_directory_the_defaults_point_into(tmp_path, monkeypatch):
    # The fresh-clone case: the state directory does not exist yet, nothing else is set.
    from include.launcher.preflight import check_settings, directories

    for name in [k for k in os.environ if k.startswith("AUTOPR_")]:
        monkeypatch.delenv(name)
    state = tmp_path / "not" / "there" / "yet"
    monkeypatch.setenv("AUTOPR_STATE_DIR", str(state))
    settings = check_settings()  # opened the default SQLite app database, so its folder existed first
    for _field, folder in directories(settings):
        assert folder.is_dir(), folder
    assert (state / "autopr.db").is_file()


def test_an_error_about_a_default_never_blames_an_unset_setting(tmp_path):
    (tmp_path / "autopr.db").mkdir()  # the default SQLite path is taken by a folder: SQLite cannot open it
    result = _run_command({}, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert not line.startswith("[autopr] AUTOPR_DATABASE_URL:"), line
    assert str(tmp_path / "autopr.db") in line and "default" in line, line


def test_a_state_dir_that_cannot_be_created_is_named_with_its_cause(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _run_command({"AUTOPR_STATE_DIR": str(blocker / "state")}, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert "AUTOPR_STATE_DIR" in line and str(blocker / "state") in line and "cannot create" in line, line
