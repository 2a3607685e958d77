"""Learning metrics: is the learning system helping reviewers, per model version and A/B arm?

Computed from the app database: feedback on issues, the issues' severities,
and the prediction log (``ml_predictions``: which model version and arm
scored which issue).  Definitions:

* only explicit feedback counts (weak signals such as a resolved thread are kept apart);
* precision = helpful / (helpful + false_positive)  (``good_catch`` counts as helpful)
* severity accuracy: for issues with feedback, the predicted severity is
  right when it equals the reviewer's ``corrected_severity`` or, without a
  correction on helpful/not-helpful feedback, the issue's severity as raised
  (the reviewer saw it and did not correct it).  Reported per true severity.
* per model version / per arm: the same numbers restricted to issues whose
  latest prediction came from that version / arm, plus prediction counts.

:func:`log_to_mlflow` writes the numbers to an MLflow run (experiment
``autopr-learning-metrics``) so data scientists see them over time in the
MLflow UI.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any


def _feedback_rows(session: Any, project_id: int | None, since: datetime | None) -> list[Any]:
    from sqlalchemy import select

    from include.db.models import MLFeedback, ReviewIssue, ReviewSession

    stmt = (
        select(MLFeedback.issue_id, MLFeedback.feedback_type, MLFeedback.corrected_severity, MLFeedback.created_at,
               ReviewIssue.analyzer, ReviewIssue.rule, ReviewIssue.severity, ReviewIssue.predicted_severity,
               ReviewIssue.model_version, ReviewIssue.context)
        .join(ReviewIssue, ReviewIssue.id == MLFeedback.issue_id)
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .where(MLFeedback.strength == "explicit")  # weak signals (a resolved thread, a changed line) are not verdicts
        .order_by(MLFeedback.created_at, MLFeedback.id)
    )
    if project_id is not None:
        stmt = stmt.where(ReviewSession.project_id == project_id)
    if since is not None:
        stmt = stmt.where(MLFeedback.created_at >= since)
    return list(session.execute(stmt))


def _latest_predictions(session: Any, issue_ids: set[int]) -> dict[int, Any]:
    from sqlalchemy import select

    from include.db.models import MLPrediction

    out: dict[int, Any] = {}
    ids = sorted(issue_ids)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for row in session.execute(
            select(MLPrediction.issue_id, MLPrediction.model_name, MLPrediction.model_version, MLPrediction.arm,
                   MLPrediction.predicted_severity, MLPrediction.id)
            .where(MLPrediction.issue_id.in_(chunk)).order_by(MLPrediction.id)
        ):
            out[row.issue_id] = row  # ordered by id: the latest wins
    return out


def _val(v: Any) -> Any:
    return getattr(v, "value", v)


class _Tally:
    def __init__(self) -> None:
        self.types: Counter = Counter()
        self.correct = 0
        self.judged = 0
        self.by_severity: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, ftype: str, predicted: str | None, truth: str | None) -> None:
        self.types[ftype] += 1
        if predicted is not None and truth is not None:
            ok = int(predicted == truth)
            self.correct += ok
            self.judged += 1
            self.by_severity[truth][0] += ok
            self.by_severity[truth][1] += 1

    def summary(self) -> dict[str, Any]:
        helpful = self.types["helpful"] + self.types["good_catch"]
        fp = self.types["false_positive"]
        total = sum(self.types.values())
        return {
            "feedback": total,
            "feedback_counts": dict(sorted(self.types.items())),
            "precision": round(helpful / (helpful + fp), 6) if helpful + fp else None,
            "helpful_rate": round(helpful / total, 6) if total else None,
            "severity_accuracy": round(self.correct / self.judged, 6) if self.judged else None,
            "severity_judged": self.judged,
            "per_severity_accuracy": {s: {"accuracy": round(c / n, 6), "n": n}
                                      for s, (c, n) in sorted(self.by_severity.items())},
        }


def learning_metrics(session: Any, project_id: int | None = None, since: datetime | None = None,
                     top: int = 10) -> dict[str, Any]:
    """All learning metrics for a project (or everything); see the module docstring.

    An issue scored before it was stored (the ``code_review`` action predicts,
    then stores) has no ``ml_predictions`` row pointing at it; its own
    ``model_version`` column and ``context["arm"]`` stand in for the log.
    """
    from sqlalchemy import func, select

    from include.db.models import MLPrediction
    from include.settings import get_settings

    severity_model = get_settings().severity_model_name

    rows = _feedback_rows(session, project_id, since)
    predictions = _latest_predictions(session, {r.issue_id for r in rows})
    overall = _Tally()
    per_version: dict[str, _Tally] = defaultdict(_Tally)
    per_arm: dict[str, _Tally] = defaultdict(_Tally)
    types: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        ftype = _val(r.feedback_type)
        logged = predictions.get(r.issue_id)
        predicted = _val(logged.predicted_severity) if logged else _val(r.predicted_severity)
        if r.corrected_severity is not None:
            truth = _val(r.corrected_severity)
        elif ftype in ("helpful", "good_catch", "not_helpful"):
            truth = _val(r.severity)
        else:
            truth = None
        overall.add(ftype, predicted, truth)
        version = f"{logged.model_name}/{logged.model_version}" if logged else (
            f"{severity_model}/{r.model_version}" if r.model_version else None)
        if version:
            per_version[version].add(ftype, predicted, truth)
        arm = logged.arm if logged else ((r.context or {}).get("arm") if r.model_version else None)
        if arm:
            per_arm[str(arm)].add(ftype, predicted, truth)
        types[(r.analyzer, r.rule)][ftype] += 1

    count_stmt = select(MLPrediction.model_name, MLPrediction.model_version, MLPrediction.arm, func.count())
    if project_id is not None:
        count_stmt = count_stmt.where(MLPrediction.project_id == project_id)
    if since is not None:
        count_stmt = count_stmt.where(MLPrediction.created_at >= since)
    served_version: Counter = Counter()
    served_arm: Counter = Counter()
    for name, version, arm, n in session.execute(count_stmt.group_by(MLPrediction.model_name,
                                                                     MLPrediction.model_version, MLPrediction.arm)):
        served_version[f"{name}/{version}"] += n
        served_arm[arm] += n

    def top_types() -> list[dict[str, Any]]:
        out = []
        for (analyzer, rule), c in sorted(types.items(), key=lambda kv: -sum(kv[1].values()))[:top]:
            helpful = c["helpful"] + c["good_catch"]
            total = sum(c.values())
            out.append({"analyzer": analyzer, "rule": rule, "feedback": total,
                        "helpful_rate": round(helpful / total, 6),
                        "precision": round(helpful / (helpful + c["false_positive"]), 6)
                        if helpful + c["false_positive"] else None})
        return out

    versions = sorted(set(per_version) | set(served_version))
    arms = sorted(set(per_arm) | set(served_arm))
    ab = {arm: {"predictions": served_arm.get(arm, 0), **per_arm[arm].summary()} for arm in arms}
    comparison = None
    if "champion" in ab and "challenger" in ab:
        c, h = ab["champion"], ab["challenger"]
        comparison = {k: (None if c[k] is None or h[k] is None else round(h[k] - c[k], 6))
                      for k in ("precision", "helpful_rate", "severity_accuracy")}
    return {
        **overall.summary(),
        "top_issue_types": top_types(),
        "per_model_version": [{"model": v, "predictions": served_version.get(v, 0), **per_version[v].summary()}
                              for v in versions],
        "ab": {"arms": ab, "challenger_minus_champion": comparison},
    }


def _flat(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        out[prefix] = float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)


def log_to_mlflow(metrics: dict[str, Any], *, project: str, tracking_uri: str | None = None,
                  experiment: str = "autopr-learning-metrics") -> str:
    """Log the metrics as one MLflow run (nested dicts flattened to dotted names); returns the run id."""
    import json
    import re

    from mlflow import MlflowClient

    from include.settings import get_settings

    settings = get_settings()
    uri = tracking_uri or settings.mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:

        from ml.registry import experiment_artifact_location

        exp_id = client.create_experiment(
            experiment, artifact_location=experiment_artifact_location(settings, experiment))
    else:
        exp_id = exp.experiment_id
    run = client.create_run(exp_id, run_name=f"{project}-metrics", tags={"project": project})
    flat: dict[str, float] = {}
    _flat("", {k: v for k, v in metrics.items() if k not in ("per_model_version", "top_issue_types")}, flat)
    for item in metrics.get("per_model_version", []):
        _flat(f"model.{item['model']}", {k: v for k, v in item.items() if k != "model"}, flat)
    from mlflow.entities import Metric

    now = int(datetime.now().timestamp() * 1000)
    safe = [Metric(re.sub(r"[^A-Za-z0-9_.\-/ ]", "_", k)[:250], v, now, 0) for k, v in flat.items()]
    for start in range(0, len(safe), 900):
        client.log_batch(run.info.run_id, metrics=safe[start:start + 900])
    client.log_text(run.info.run_id, json.dumps(metrics, indent=2, default=str), "learning_metrics.json")
    client.set_terminated(run.info.run_id)
    return run.info.run_id
