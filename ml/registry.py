"""MLflow tracking, the model registry and the promotion rule for ``autopr-severity``.

Why this module exists: the retrain and promotion DAG tasks must do the same
MLflow things every time — one experiment, one registered model, aliases
(MLflow 3: ``champion`` serves, ``challenger`` waits), lineage tags — and the
decision to promote must be one readable function, so "why was v7 not
promoted?" has an answer in the run, the task output and the version's tags.

The serving contract (part 2 builds on it):

* registered model :data:`MODEL_NAME` = ``autopr-severity``; load
  ``models:/autopr-severity@champion`` (or ``@challenger``) with
  ``mlflow.sklearn.load_model``;
* the model is ONE sklearn Pipeline; input = ``ml.features.issues_frame(records)``
  (columns :data:`ml.features.ISSUE_COLUMNS`); ``predict`` returns severity
  labels (``include.enums.Severity`` values), ``predict_proba`` columns
  follow ``model.classes_``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from include.settings import REPO_ROOT, Settings, get_settings
from ml.evaluation import Metrics, confusion_figure, evaluate_model, per_class_figure, segment_metrics

log = logging.getLogger(__name__)

MODEL_NAME = "autopr-severity"
EXPERIMENT_NAME = "autopr-severity"
CHAMPION = "champion"
CHALLENGER = "challenger"
PIP_REQUIREMENTS = ["scikit-learn", "xgboost", "pandas", "numpy", "pyarrow"]


def experiment_artifact_location(settings: Settings | None = None, subdir: str | None = None) -> str | None:
    """The artifact location to create a new experiment with, or None to let the tracking server choose.

    Why: a client that talks HTTP to the MLflow server must not name a path on
    its own disk (other hosts, and the server, could not read it) — the
    server's default (``mlflow-artifacts:/`` when it serves artifacts, else its
    object store root) is the right one.  A client writing a database directly
    has no server to ask and names ``mlflow_artifact_root``: an object store URI
    is kept exactly as configured, only a local directory becomes a
    ``file://`` URI (and is created).
    """
    from include.settings import is_http_uri

    settings = settings or get_settings()
    if is_http_uri(settings.mlflow_tracking_uri):
        return None
    root = settings.mlflow_artifact_root
    if ":" in root.split("/", 1)[0]:  # a URI (s3://, gs://, file://, mlflow-artifacts:/ ...): as configured
        return f"{root.rstrip('/')}/{subdir}" if subdir else root
    folder = Path(root).expanduser().resolve()
    if subdir:
        folder = folder / subdir
    folder.mkdir(parents=True, exist_ok=True)
    return folder.as_uri()


def configure(settings: Settings | None = None):
    """Point MLflow at the platform's tracking store; returns (client, experiment_id)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        try:
            experiment_id = client.create_experiment(
                EXPERIMENT_NAME,
                artifact_location=experiment_artifact_location(settings),
                tags={"autopr.purpose": "severity prediction from reviewer feedback"},
            )
        except MlflowException:  # another worker created it between our look-up and create
            experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
            if experiment is None:
                raise
            experiment_id = experiment.experiment_id
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return client, experiment_id


def git_sha() -> str:
    if os.environ.get("AUTOPR_GIT_SHA"):
        return os.environ["AUTOPR_GIT_SHA"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5,
                             check=False)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def alias_version(client, alias: str) -> Any | None:
    """The ModelVersion behind ``alias``, or None when unset / no model registered yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        return None


def load_alias(alias: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{alias}")


# ------------------------------------------------------------------------------------------
# Training run → registered challenger
# ------------------------------------------------------------------------------------------
def log_candidates(candidates: list, *, train_rows: int, holdout: pd.DataFrame, holdout_hash: str,
                   holdout_path: Path, dataset: dict[str, Any], airflow_run_id: str | None,
                   settings: Settings | None = None) -> dict[str, Any]:
    """Log every trained candidate as a child run, register the first as ``challenger``.

    ``candidates`` are ``ml.training.TrainedCandidate`` in selection order
    (best on the time-ordered validation slice first, ``ml.training.selection_key``):
    the holdout metrics are logged for every candidate but chose none of them,
    with per-segment quality and calibration (``ml.evaluation.segment_metrics``:
    ``segment.<source=…|age…>.macro_f1``/``.ece``/…, and ``metrics/holdout_segments.json``).
    A candidate that went through the class-prior check (``ml.priors``) logs
    it: ``priors.*`` metrics (priors before/after, shift, validation macro-F1
    without/with, whether applied) and ``metrics/priors.json``.
    The registered one also gets its drift reference (``drift/reference.json``
    on its run, :func:`_log_drift_reference`), so the drift watch never builds it.
    Returns the registration summary (version, run ids, metrics) for the DAG.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    client, _ = configure(settings)
    settings = settings or get_settings()
    sha = git_sha()
    lineage = {
        "dataset.version": dataset["version"],
        "dataset.hash": dataset["hash"],
        "holdout.hash": holdout_hash,
        "git.sha": sha,
        "airflow.run_id": airflow_run_id or "manual",
    }
    example = holdout.loc[:, list(_issue_columns())].head(3)
    summary: dict[str, Any] = {"candidates": {}}
    with mlflow.start_run(run_name=f"retrain {dataset['version']}") as parent:
        mlflow.set_tags({**lineage, "autopr.stage": "train"})
        mlflow.log_params({
            "dataset.version": dataset["version"],
            "dataset.hash": dataset["hash"],
            "dataset.labelled_rows": dataset["labelled_rows"],
            "train.rows": train_rows,
            "holdout.rows": len(holdout),
            "holdout.percent": settings.ml_holdout_percent,
            "holdout.strategy": settings.ml_holdout_strategy,
            "holdout.hash": holdout_hash,
            "validation.percent": settings.ml_validation_percent,
            "selected_by": "validation macro-F1 (newest training rows before the holdout)",
        })
        mlflow.log_artifact(str(holdout_path), artifact_path="holdout")
        if dataset.get("report") and Path(dataset["report"]).exists():
            mlflow.log_artifact(dataset["report"], artifact_path="data_validation")
        for candidate in candidates:
            with mlflow.start_run(run_name=candidate.name, nested=True) as child:
                mlflow.set_tags({**lineage, "autopr.stage": "candidate", "candidate": candidate.name})
                model_params = candidate.pipeline.named_steps["model"].get_params()
                mlflow.log_params({f"model.{k}": v for k, v in model_params.items() if _loggable(v)})
                mlflow.log_param("candidate", candidate.name)
                mlflow.log_params({f"tuned.{k}": v for k, v in candidate.params.items() if _loggable(v)})
                mlflow.log_metrics({**candidate.metrics.as_mlflow(), "fit_seconds": candidate.seconds})
                mlflow.log_dict(candidate.metrics.to_dict(), "metrics/holdout_metrics.json")
                if candidate.validation is not None:
                    mlflow.log_metrics(candidate.validation.as_mlflow("validation_"))
                    mlflow.log_dict(candidate.validation.to_dict(), "metrics/validation_metrics.json")
                if getattr(candidate, "priors", None) is not None:  # the class-prior check (ml.priors)
                    mlflow.log_param("priors.applied", candidate.priors.applied)
                    mlflow.log_metrics(candidate.priors.as_mlflow())
                    mlflow.log_dict(candidate.priors.to_dict(), "metrics/priors.json")
                    summary.setdefault("priors", {})[candidate.name] = candidate.priors.to_dict()
                segments = segment_metrics(candidate.pipeline, holdout)
                for segment in segments:
                    mlflow.log_metrics(segment.as_mlflow())
                mlflow.log_dict([asdict(segment) for segment in segments], "metrics/holdout_segments.json")
                fig = confusion_figure(candidate.metrics, f"{candidate.name} on holdout")
                mlflow.log_figure(fig, "plots/confusion_matrix.png")
                _close(fig)
                predictions = candidate.pipeline.predict(example)
                info = mlflow.sklearn.log_model(
                    candidate.pipeline,
                    name="model",
                    serialization_format="cloudpickle",
                    signature=infer_signature(example, predictions),
                    input_example=example,
                    pip_requirements=PIP_REQUIREMENTS,
                    metadata={"classes": [str(c) for c in candidate.pipeline.classes_]},
                )
                summary["candidates"][candidate.name] = {
                    "run_id": child.info.run_id, "model_uri": info.model_uri, **candidate.metrics.as_mlflow(),
                    **(candidate.validation.as_mlflow("validation_") if candidate.validation is not None else {}),
                }
        best = candidates[0]
        fig = per_class_figure({c.name: c.metrics for c in candidates}, "Candidates: per-class F1 on holdout")
        mlflow.log_figure(fig, "plots/candidates_per_class_f1.png")
        _close(fig)
        mlflow.log_metrics({f"best_{k}": v for k, v in best.metrics.as_mlflow().items()})
        mlflow.set_tag("best_candidate", best.name)
        best_uri = summary["candidates"][best.name]["model_uri"]
        version = mlflow.register_model(best_uri, MODEL_NAME, tags={**lineage, "candidate": best.name,
                                                                     "training.run_id": parent.info.run_id})
        client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version.version)
        _log_drift_reference(client, best, holdout, summary["candidates"][best.name]["run_id"], parent.info.run_id)
        chosen_on = (f"chosen on validation macro-F1 {best.validation.macro_f1:.3f}; "
                     if best.validation is not None else "")
        client.update_model_version(MODEL_NAME, version.version,
                                    description=f"{best.name} on dataset {dataset['version']}: {chosen_on}holdout "
                                                f"macro-F1 {best.metrics.macro_f1:.3f}, accuracy "
                                                f"{best.metrics.accuracy:.3f}")
        mlflow.set_tag("registered_version", version.version)
        summary.update({
            "run_id": parent.info.run_id, "version": str(version.version), "candidate": best.name,
            "train_rows": train_rows, "holdout_rows": len(holdout),
            "macro_f1": best.metrics.macro_f1, "accuracy": best.metrics.accuracy,
        })
    log.info("registered %s v%s (%s) as %s", MODEL_NAME, version.version, best.name, CHALLENGER)
    return summary


def _log_drift_reference(client, candidate, holdout: pd.DataFrame, model_run_id: str, training_run_id: str) -> None:
    """Store the registered model's drift reference on the run that logged it (``ml.drift.log_reference``).

    Why at training time: the model and its holdout are both in memory here,
    so the drift watch reads the reference instead of downloading both and
    building it on its first check.  The same holdout and the same
    ``ml.drift.build_reference`` the watch's lazy path uses (kept for versions
    trained before this), so either way a version has the same reference.
    """
    from ml.drift import build_reference, log_reference

    reference = build_reference(candidate.pipeline, holdout, source=f"holdout of training run {training_run_id}")
    log_reference(client, model_run_id, reference)


def _issue_columns():
    from ml.features import ISSUE_COLUMNS

    return ISSUE_COLUMNS


def _loggable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def last_training_labelled_rows(settings: Settings | None = None) -> int:
    """Labelled rows of the dataset the last training run used (0 when there was none)."""
    client, experiment_id = configure(settings)
    runs = client.search_runs([experiment_id], filter_string="tags.`autopr.stage` = 'train'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        return 0
    return int(runs[0].data.params.get("dataset.labelled_rows", 0))


# ------------------------------------------------------------------------------------------
# Promotion
# ------------------------------------------------------------------------------------------
@dataclass
class Decision:
    promote: bool
    reasons: list[str]
    challenger: dict[str, Any] = field(default_factory=dict)
    champion: dict[str, Any] | None = None

    def summary(self) -> str:
        verdict = "PROMOTED" if self.promote else "NOT promoted"
        return f"{verdict}: " + "; ".join(self.reasons)


def decide(challenger: Metrics, champion: Metrics | None, *, min_gain: float, max_class_drop: float) -> Decision:
    """The promotion rule, on metrics from the same holdout.

    Promote when there is no champion, or when macro-F1 improves by at least
    ``min_gain`` AND no class's F1 drops by more than ``max_class_drop``.
    Every reason is spelled out, for the run log and the version tags.
    """
    if champion is None:
        return Decision(True, ["no champion yet: the first model becomes champion"], challenger.to_dict())
    reasons: list[str] = []
    gain = challenger.macro_f1 - champion.macro_f1
    ok_gain = gain >= min_gain - 1e-12
    reasons.append(
        f"macro-F1 {challenger.macro_f1:.4f} vs champion {champion.macro_f1:.4f} (gain {gain:+.4f}, "
        f"needed ≥ {min_gain:+.4f}): {'ok' if ok_gain else 'not enough'}"
    )
    drops = {
        label: champion.per_class_f1[label] - challenger.per_class_f1.get(label, 0.0)
        for label in champion.per_class_f1
    }
    bad = {label: drop for label, drop in drops.items() if drop > max_class_drop + 1e-12}
    if bad:
        reasons.append("per-class F1 dropped past the floor "
                       f"({max_class_drop:.3f}): " + ", ".join(f"{k} -{v:.3f}" for k, v in sorted(bad.items())))
    else:
        worst = max(drops.values(), default=0.0)
        reasons.append(f"no class F1 dropped more than {max_class_drop:.3f} (largest drop {worst:+.3f})")
    return Decision(ok_gain and not bad, reasons, challenger.to_dict(), champion.to_dict())


def promote_challenger(holdout_path: Path | str, *, airflow_run_id: str | None = None,
                       settings: Settings | None = None) -> dict[str, Any]:
    """Judge ``challenger`` against ``champion`` on the frozen holdout and move the alias if it wins.

    Logs a ``promotion`` run (both models' holdout metrics, the decision, the
    reasons, a per-class comparison plot) and tags the challenger version with
    the outcome and lineage.  Returns the decision summary for the task output.
    """
    import mlflow

    from ml.evaluation import holdout_hash

    settings = settings or get_settings()
    client, _ = configure(settings)
    challenger_mv = alias_version(client, CHALLENGER)
    if challenger_mv is None:
        raise LookupError(f"no {CHALLENGER!r} alias on {MODEL_NAME!r}: nothing to promote")
    champion_mv = alias_version(client, CHAMPION)
    holdout = pd.read_parquet(holdout_path)
    digest = holdout_hash(holdout)
    if champion_mv is not None and champion_mv.version == challenger_mv.version:
        return {"promoted": False, "challenger_version": challenger_mv.version,
                "champion_version": champion_mv.version, "reasons": ["challenger is already champion"],
                "holdout_hash": digest}

    challenger_metrics = evaluate_model(load_alias(CHALLENGER), holdout)
    champion_metrics = evaluate_model(load_alias(CHAMPION), holdout) if champion_mv is not None else None
    decision = decide(challenger_metrics, champion_metrics, min_gain=settings.promote_min_macro_f1_gain,
                      max_class_drop=settings.promote_max_class_f1_drop)
    beaten = champion_mv.version if champion_mv is not None else "none"
    with mlflow.start_run(run_name=f"promotion v{challenger_mv.version} vs "
                                   f"{'v' + str(beaten) if champion_mv else 'no champion'}"):
        mlflow.set_tags({
            "autopr.stage": "promotion",
            "challenger.version": challenger_mv.version,
            "champion.version": beaten,
            "holdout.hash": digest,
            "airflow.run_id": airflow_run_id or "manual",
            "git.sha": git_sha(),
            "decision": "promoted" if decision.promote else "rejected",
            "decision.reasons": " | ".join(decision.reasons)[:5000],
        })
        mlflow.log_metrics(challenger_metrics.as_mlflow("challenger_"))
        if champion_metrics is not None:
            mlflow.log_metrics(champion_metrics.as_mlflow("champion_"))
        mlflow.log_dict({"promote": decision.promote, "reasons": decision.reasons,
                         "challenger": decision.challenger, "champion": decision.champion}, "promotion.json")
        compared = {f"challenger v{challenger_mv.version}": challenger_metrics}
        if champion_metrics is not None:
            compared[f"champion v{beaten}"] = champion_metrics
        fig = per_class_figure(compared, "Holdout per-class F1: challenger vs champion")
        mlflow.log_figure(fig, "plots/challenger_vs_champion.png")
        _close(fig)

    tags = {
        "promotion.decision": "promoted" if decision.promote else "rejected",
        "promotion.reasons": " | ".join(decision.reasons)[:5000],
        "promotion.holdout_hash": digest,
        "promotion.airflow_run_id": airflow_run_id or "manual",
        "promotion.champion_version": beaten,
        "promotion.macro_f1": f"{challenger_metrics.macro_f1:.4f}",
    }
    if decision.promote:
        tags["promotion.beat_champion"] = beaten
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, challenger_mv.version)
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, challenger_mv.version, key, value)
    message = f"{MODEL_NAME} v{challenger_mv.version} {decision.summary()}"
    (log.info if decision.promote else log.warning)(message)
    return {
        "promoted": decision.promote,
        "challenger_version": challenger_mv.version,
        "champion_version": champion_mv.version if champion_mv else None,
        "reasons": decision.reasons,
        "challenger_macro_f1": challenger_metrics.macro_f1,
        "champion_macro_f1": champion_metrics.macro_f1 if champion_metrics else None,
        "holdout_hash": digest,
        "message": message,
    }
