"""Severity prediction API over HTTP against a real MLflow store (real registered models)."""

from __future__ import annotations

import time

import pytest

from ml import ab
from tests.ml_serving.conftest import FLIPPED, RULES, auth, issue

URL = "/api/v1/projects/acme/predictions/severity"


def _predict(client, repository="org/web", rule="B602", user="alice", **extra):
    return client.post(URL, json={"repository": repository, "issue": issue(rule, **extra)}, headers=auth(user))


def test_single_and_batch_prediction_name_the_model_version(client, project, registry, serving, model_name):
    version = registry.register(model_name, alias="champion")
    r = _predict(client)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["severity"] == "critical"
    assert body["model_name"] == model_name and body["model_version"] == version and body["arm"] == "champion"
    assert set(body["probabilities"]) == {"info", "low", "medium", "high", "critical"}
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["helpfulness"] is None and body["hidden"] is False  # no helpfulness model registered

    issues = [issue(rule) for rule in RULES]
    r = client.post(URL + "/batch", json={"repository": "org/web", "issues": issues}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(RULES) and body["model_version"] == version
    assert [p["severity"] for p in body["predictions"]] == [sev for _, sev in RULES.values()]


def test_alias_swap_reaches_the_running_app_without_restart(client, project, registry, serving, model_name):
    v1 = registry.register(model_name, alias="champion")
    v2 = registry.register(model_name, flipped=True)
    assert _predict(client).json()["model_version"] == v1

    registry.set_alias(model_name, "champion", v2)  # promotion happens elsewhere; the app keeps running
    deadline = time.monotonic() + 20
    body = _predict(client).json()
    while body["model_version"] != v2 and time.monotonic() < deadline:
        time.sleep(0.1)
        body = _predict(client).json()
    assert body["model_version"] == v2
    assert body["severity"] == FLIPPED["critical"]  # the new model's answer, not the old one's

    # the alias moves back (rollback) just as well
    registry.set_alias(model_name, "champion", v1)
    deadline = time.monotonic() + 20
    while _predict(client).json()["model_version"] != v1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _predict(client).json()["severity"] == "critical"


def test_hot_path_does_not_query_the_registry(client, project, registry, serving, model_name):
    service = serving(model_refresh_seconds=3600)
    registry.register(model_name, alias="champion")
    assert _predict(client).status_code == 200
    calls = []
    real = service.cache.check
    service.cache.check = lambda *a: calls.append(a) or real(*a)
    for _ in range(20):
        assert _predict(client).status_code == 200
    assert calls == []


def test_missing_model_is_a_clear_503(client, project, registry, serving, model_name):
    r = _predict(client)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Retry-After" in r.headers
    assert model_name in r.json()["detail"] and "champion" in r.json()["detail"]

    # a registered model whose champion alias is removed stops serving (no stale guesses)
    version = registry.register(model_name, alias="champion")
    deadline = time.monotonic() + 20
    while _predict(client).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _predict(client).json()["model_version"] == version
    registry.delete_alias(model_name, "champion")
    deadline = time.monotonic() + 20
    while _predict(client).status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _predict(client).status_code == 503


def test_ab_split_is_sticky_per_repository_and_logged(client, project, registry, serving, model_name):
    from sqlalchemy import func, select

    from include.db.models import MLPrediction
    from include.db.session import session_scope

    service = serving(ab_challenger_share=0.3)
    v1 = registry.register(model_name, alias="champion")
    v2 = registry.register(model_name, flipped=True, alias="challenger")
    repos = [f"org/repo-{i}" for i in range(60)]
    arms = {}
    for repo in repos:
        body = _predict(client, repository=repo).json()
        arms[repo] = body["arm"]
        assert body["model_version"] == (v2 if body["arm"] == "challenger" else v1)
        assert body["arm"] == ab.arm_for(repo, 0.3, salt=model_name)
    share = sum(a == "challenger" for a in arms.values()) / len(repos)
    assert 0.1 <= share <= 0.5, share  # 30% of 60 repositories, binomial spread
    for repo in repos[:15]:  # sticky: the same repository always gets the same arm
        assert _predict(client, repository=repo).json()["arm"] == arms[repo]

    service.log.flush()
    with session_scope() as s:
        logged = dict(s.execute(select(MLPrediction.arm, func.count()).group_by(MLPrediction.arm)).all())
        assert sum(logged.values()) == 75
        assert logged.get("challenger", 0) == sum(arms[r] == "challenger" for r in repos) + sum(
            arms[r] == "challenger" for r in repos[:15])
        versions = set(s.execute(select(MLPrediction.arm, MLPrediction.model_version)).all())
        assert versions <= {("champion", v1), ("challenger", v2)}


def test_without_challenger_everyone_gets_the_champion(client, project, registry, serving, model_name):
    serving(ab_challenger_share=1.0)
    v1 = registry.register(model_name, alias="champion")
    body = _predict(client, repository="org/any").json()
    assert (body["arm"], body["model_version"]) == ("champion", v1)


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({"repository": "org/web", "issue": {"message": "m", "analyzer": "ruff", "file_path": "a.py"}}, "/issue/rule"),
        ({"repository": "org/web", "issue": {**issue(), "line": -1}}, "/issue/line"),
        ({"repository": "org/web", "issue": {**issue(), "bogus": 1}}, "/issue/bogus"),
        ({"repository": "org/web", "issue": {**issue(), "message": ""}}, "/issue/message"),
        ({"repository": "org/web", "issue": {**issue(), "severity": "apocalyptic"}}, "/issue/severity"),
        ({"issue": issue()}, "/repository"),
    ],
)
def test_malformed_input_is_422_naming_the_field(client, project, registry, serving, model_name, payload, pointer):
    registry.register(model_name, alias="champion")
    r = client.post(URL, json=payload, headers=auth())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert pointer in [e["pointer"] for e in r.json()["errors"]]


def test_malformed_batch_names_the_item(client, project, registry, serving, model_name):
    registry.register(model_name, alias="champion")
    issues = [issue(), issue(), issue(), {**issue(), "file_path": None}]
    r = client.post(URL + "/batch", json={"repository": "org/web", "issues": issues}, headers=auth())
    assert r.status_code == 422
    assert "/issues/3/file_path" in [e["pointer"] for e in r.json()["errors"]]
    r = client.post(URL + "/batch", json={"repository": "org/web", "issues": []}, headers=auth())
    assert r.status_code == 422 and "/issues" in [e["pointer"] for e in r.json()["errors"]]


def test_auth_and_project_scope(client, project, registry, serving, model_name):
    registry.register(model_name, alias="champion")
    assert client.post(URL, json={"repository": "o/r", "issue": issue()}).status_code == 401
    assert _predict(client, user="mallory").status_code == 404  # not a member: project not revealed


def test_models_status_endpoint(client, project, registry, serving, model_name):
    version = registry.register(model_name, alias="champion")
    r = client.get("/api/v1/predictions/models", headers=auth())
    assert r.status_code == 200
    models = {(m["name"], m["alias"]): m for m in r.json()["models"]}
    assert models[(model_name, "champion")]["version"] == version
    assert models[(model_name, "challenger")]["available"] is False


def test_predict_issues_in_process_contract(project, registry, serving, model_name):
    from ml.serving import ModelUnavailable, predict_issues

    with pytest.raises(ModelUnavailable):
        predict_issues([issue()], "org/web")
    serving()  # forget the cached "missing" answer
    version = registry.register(model_name, alias="champion")
    out = predict_issues([issue("E501"), issue("S105")], "org/web")
    assert [o["severity"] for o in out] == ["info", "high"]
    assert all(o["model_version"] == version and o["arm"] == "champion" for o in out)
    assert {"severity", "confidence", "model_version", "arm", "helpfulness", "hidden"} <= set(out[0])
