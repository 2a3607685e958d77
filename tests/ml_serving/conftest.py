"""Fixtures for serving tests: a real MLflow store with real, tiny severity models.

One sqlite MLflow store per test session (creating one runs MLflow's own
migrations, seconds each); tests isolate themselves by registering under
their own model names.  Models are real sklearn Pipelines built on the shared
featuriser (``ml.features.build_featurizer``), logged with
``mlflow.sklearn.log_model`` and addressed by alias, exactly as part 1
registers ``autopr-severity``.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from pathlib import Path

import pytest

RULES = {  # rule -> (message words, severity for model "A")
    "S101": ("assert used outside tests", "low"),
    "B602": ("subprocess call with shell true injection", "critical"),
    "E501": ("line too long", "info"),
    "C901": ("function is too complex", "medium"),
    "S105": ("hardcoded password string", "high"),
}
FLIPPED = {"low": "high", "critical": "info", "info": "critical", "medium": "low", "high": "medium"}


def issue(rule: str = "B602", **extra: object) -> dict:
    return {"message": RULES[rule][0], "rule": rule, "analyzer": "bandit", "file_path": "src/pkg0/mod0.py",
            "line": 3, **extra}


def _training_records(n_per_rule: int = 12) -> list[dict]:
    """Every rule appears in the same contexts (paths, lines, repositories), so only rule + message carry the label."""
    from datetime import datetime, timedelta

    start = datetime(2025, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n_per_rule):
        for j, (rule, (message, _)) in enumerate(RULES.items()):
            records.append({"message": f"{message} variant {i % 4}", "rule": rule, "analyzer": "bandit",
                            "file_path": f"src/pkg{i % 3}/mod{i % 4}.py", "line": i % 6 + 1,
                            "repository": f"org/r{i % 3}",
                            "created_at": start + timedelta(hours=i * len(RULES) + j)})  # a real timeline
    return records


def train_severity_model(flipped: bool = False):
    """A real severity Pipeline: the shared featuriser + logistic regression ("A", or "B" with flipped labels)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from ml.features import build_featurizer, issues_frame

    records = _training_records()
    labels = [RULES[r["rule"]][1] for r in records]
    if flipped:
        labels = [FLIPPED[label] for label in labels]
    pipeline = Pipeline([("features", build_featurizer(min_category_frequency=1)),
                         ("model", LogisticRegression(C=10.0, max_iter=2000))])
    pipeline.fit(issues_frame(records), labels)
    return pipeline


class Registry:
    """Register real models into the session's MLflow store and move aliases."""

    def __init__(self, tracking_uri: str, artifact_root: Path):
        from mlflow import MlflowClient

        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        name = "serving-tests"
        exp = self.client.get_experiment_by_name(name)
        self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(
            name, artifact_location=(artifact_root / name).as_uri())
        self._models: dict[bool, object] = {}

    def _logged(self, flipped: bool) -> str:
        """Log each of the two models once per session; later registrations reuse the artifact."""
        import mlflow

        uri = self._models.get(flipped)
        if uri is None:
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)
            with mlflow.start_run(experiment_id=self.experiment_id):
                info = mlflow.sklearn.log_model(train_severity_model(flipped), name="model",
                                                serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
            uri = self._models[flipped] = info.model_uri
        return uri

    def register(self, name: str, *, flipped: bool = False, alias: str | None = None) -> str:
        """Register model A (or B, ``flipped``) as a new version of ``name``; optionally point ``alias`` at it."""
        import mlflow

        source = self._logged(flipped)
        mlflow.set_registry_uri(self.uri)
        version = str(mlflow.register_model(source, name).version)
        if alias:
            self.set_alias(name, alias, version)
        return version

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)


@pytest.fixture(scope="session")
def registry(state_dir: Path) -> Registry:
    from include.settings import get_settings

    get_settings.cache_clear()
    return Registry(get_settings().mlflow_tracking_uri, state_dir / "mlartifacts")


@pytest.fixture()
def model_name() -> str:
    return f"sev-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def serving(monkeypatch, model_name):
    """Fresh settings + serving service for one test; returns a configure(**settings) callable."""
    from include.settings import get_settings
    from ml import serving as serving_mod

    def configure(**values: object):
        env = {"severity_model_name": model_name, "helpfulness_model_name": f"{model_name}-helpfulness",
               "model_refresh_seconds": 0.3, **values}
        for key, value in env.items():
            monkeypatch.setenv(f"AUTOPR_{key.upper()}", str(value))
        get_settings.cache_clear()
        serving_mod.reset_service()
        return serving_mod.get_service()

    configure()
    yield configure
    serving_mod.reset_service()
    get_settings.cache_clear()


@pytest.fixture()
def project(db):
    """Project 'acme' with alice (viewer) and erin (editor); returns (client, headers) helpers."""
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role

    with session_scope() as s:
        p = Project(slug="acme", name="Acme")
        s.add(p)
        s.flush()
        s.add_all([ProjectMember(project_id=p.id, username="alice", role=Role.viewer),
                   ProjectMember(project_id=p.id, username="erin", role=Role.editor)])
        pid = p.id
    return pid


@pytest.fixture()
def client(db):
    from fastapi.testclient import TestClient

    from include.api.app import create_app

    with TestClient(create_app()) as c:
        yield c


def auth(username: str = "alice") -> dict[str, str]:
    from include.auth.tokens import mint_token

    return {"Authorization": f"Bearer {mint_token(username)}"}
