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
