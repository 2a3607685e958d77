"""Calibrated confidence: P(a reviewer finds this issue helpful), learned from feedback.

Replaces the proof of concept's fixed multipliers (×1.05 after "helpful",
×0.95 after "not helpful" per rule), which drift without bound and ignore
where an issue was raised.  Here a logistic model over the issue's context —
rule, analyser, file type, repository, severity, the message's words, and the
crosses that matter (rule × repository, rule × file type) — is wrapped in
``CalibratedClassifierCV`` (isotonic with enough data, sigmoid otherwise) so
its output is a probability: of issues scored 0.7, about 70% are found
helpful.  Calibration is reported as the Brier score, the expected
calibration error (ECE, 10 equal-width bins) and a reliability plot.

Labels: ``helpful`` and ``good_catch`` → 1; ``not_helpful`` and
``false_positive`` → 0; ``missed_issue`` is about an issue the tool did not
raise and carries no label for a raised one.

The model is registered in MLflow as ``autopr-helpfulness`` (alias
``champion``) and served by :mod:`ml.serving`; issues below
``settings.confidence_threshold`` are hidden.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

HELPFULNESS_COLUMNS: tuple[str, ...] = ("message", "rule", "analyzer", "file_path", "repository", "severity")
POSITIVE = ("helpful", "good_catch")
NEGATIVE = ("not_helpful", "false_positive")


class HelpfulnessInputError(ValueError):
    def __init__(self, index: int, field: str, message: str):
        super().__init__(f"record {index}: field {field!r} {message}")
        self.index, self.field = index, field


def label_of(feedback_type: str) -> int | None:
    """1 helpful, 0 not, None when the feedback says nothing about the raised issue."""
    value = getattr(feedback_type, "value", feedback_type)
    if value in POSITIVE:
        return 1
    if value in NEGATIVE:
        return 0
    return None


def helpfulness_columns(records: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The model input as plain columns (all str), checked; shared by the frame and the compiled path."""
    cols: dict[str, list[str]] = {c: [] for c in HELPFULNESS_COLUMNS}
    for i, rec in enumerate(records):
        for c in HELPFULNESS_COLUMNS:
            v = rec.get(c)
            if v is None and c in ("rule", "analyzer", "file_path"):
                raise HelpfulnessInputError(i, c, "is required")
            cols[c].append(str(getattr(v, "value", v)) if v is not None else "")
    return cols


def helpfulness_frame(records: Iterable[Mapping[str, Any]]) -> Any:
    """Model input (exactly :data:`HELPFULNESS_COLUMNS`, all str) from issue dicts."""
    import pandas as pd

    return pd.DataFrame(helpfulness_columns(records), columns=list(HELPFULNESS_COLUMNS))


def derive_helpfulness_columns(cols: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Helpfulness columns (all str, as :func:`helpfulness_columns` gives them) → the model's derived columns.

    The one definition of these features: :func:`_derive` (the model's first
    step) puts the result in a frame, the compiled serving path feeds it to
    the compiled column transformers as is.  String steps follow pandas'
    semantics (:mod:`ml.compiled.strings`).
    """
    from ml.compiled.strings import lower_many
    from ml.features import file_type

    analyzer = lower_many(cols["analyzer"])
    rule = [a + ":" + r for a, r in zip(analyzer, lower_many(cols["rule"]), strict=True)]
    ftype = [file_type(p) for p in cols["file_path"]]
    repository = lower_many(cols["repository"])
    return {
        "rule": rule,
        "analyzer": analyzer,
        "file_type": ftype,
        "repository": repository,
        "severity": lower_many(cols["severity"]),
        "rule_repo": [r + "@" + rp for r, rp in zip(rule, repository, strict=True)],
        "rule_type": [r + "@" + t for r, t in zip(rule, ftype, strict=True)],
        "test_path": ["test" if _TEST_PATH.search(p) else "src" for p in lower_many(cols["file_path"])],
        "text": lower_many(cols["message"]),
    }


_TEST_PATH = re.compile("test|spec|fixture|example")


def _derive(frame: Any) -> Any:
    """The model's derive step (``FunctionTransformer(_derive)``; pickled models name it): a frame of
    :func:`derive_helpfulness_columns`."""
    import pandas as pd

    derived = derive_helpfulness_columns({c: frame[c].tolist() for c in HELPFULNESS_COLUMNS})
    return pd.DataFrame({c: pd.Series(v, index=frame.index, dtype=str) for c, v in derived.items()},
                        index=frame.index)


CATEGORICAL = ("rule", "analyzer", "file_type", "repository", "severity", "rule_repo", "rule_type", "test_path")


def build_model(n_rows: int, C: float = 1.0, seed: int = 0) -> Any:
    """Featurise → logistic regression → calibration, as one estimator taking the helpfulness frame."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    columns = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=3), list(CATEGORICAL)),
        ("text", TfidfVectorizer(min_df=3, max_features=5000, sublinear_tf=True, dtype=np.float32), "text"),
    ])
    base = Pipeline([
        ("derive", FunctionTransformer(_derive)),
        ("columns", columns),
        ("model", LogisticRegression(C=C, max_iter=2000)),
    ])
    method = "isotonic" if n_rows >= 2000 else "sigmoid"
    return CalibratedClassifierCV(base, method=method, cv=5 if n_rows >= 5000 else 3)


# -- metrics ---------------------------------------------------------------------------------
def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Σ_bins (n_b / n) · |mean(y_b) − mean(p_b)| over equal-width probability bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(ece)


@dataclass
class CalibrationReport:
    brier: float
    ece: float
    log_loss: float
    auc: float
    base_rate: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return {"brier": self.brier, "ece": self.ece, "log_loss": self.log_loss, "auc": self.auc,
                "base_rate": self.base_rate, "n": float(self.n)}


def calibration_report(y: Any, p: Any) -> CalibrationReport:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    y, p = np.asarray(y, int), np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    auc = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan")
    return CalibrationReport(float(brier_score_loss(y, p)), expected_calibration_error(y, p),
                             float(log_loss(y, p, labels=[0, 1])), auc, float(y.mean()), len(y))


def reliability_plot(y: Any, curves: Mapping[str, Any], path: str, bins: int = 10) -> str:
    """Reliability diagram (observed helpful rate vs predicted, per bin) for one or more predictors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
    for name, p in curves.items():
        frac, mean = calibration_curve(np.asarray(y, int), np.clip(np.asarray(p, float), 0, 1), n_bins=bins)
        ax.plot(mean, frac, "o-", label=name)
    ax.set_xlabel("predicted P(helpful)")
    ax.set_ylabel("observed helpful rate")
    ax.set_title("Reliability of helpfulness confidence")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- the proof of concept's multipliers, as a baseline ----------------------------------------
class MultiplierBaseline:
    """Per-rule confidence starting at ``start``, ×1.05 after helpful, ×0.95 after not (clipped to 1)."""

    def __init__(self, start: float = 0.8):
        self.start = start
        self.conf: dict[str, float] = {}

    def fit(self, frame: Any, y: Any) -> MultiplierBaseline:
        for rule, label in zip(frame["analyzer"] + ":" + frame["rule"], y):
            c = self.conf.get(rule, self.start)
            self.conf[rule] = min(1.0, c * (1.05 if label else 0.95))
        return self

    def predict_proba(self, frame: Any) -> np.ndarray:
        p = np.array([self.conf.get(r, self.start) for r in frame["analyzer"] + ":" + frame["rule"]])
        return np.column_stack([1 - p, p])


# -- training --------------------------------------------------------------------------------
@dataclass
class TrainedHelpfulness:
    model: Any
    holdout: CalibrationReport
    baseline: CalibrationReport
    n_train: int
    n_holdout: int
    holdout_frame: Any
    holdout_p: np.ndarray
    baseline_p: np.ndarray


def train_helpfulness(frame: Any, holdout_fraction: float = 0.2, seed: int = 0, refit_on_all: bool = True
                      ) -> TrainedHelpfulness:
    """Fit on the older rows, report calibration on the newest ``holdout_fraction`` (time-ordered).

    With ``refit_on_all`` (the default) the model to register is refitted on
    every row, holdout included, after the holdout was scored.
    """
    if "label" not in frame or frame["label"].nunique() < 2:
        raise ValueError("need feedback with both helpful and not-helpful labels to learn helpfulness")
    frame = frame.sort_values("created_at", kind="stable").reset_index(drop=True) if "created_at" in frame else frame
    cut = int(len(frame) * (1 - holdout_fraction))
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    if train["label"].nunique() < 2 or len(test) == 0:
        raise ValueError("the time-ordered split leaves a part with a single label; more feedback is needed")
    X_train, y_train = train.loc[:, list(HELPFULNESS_COLUMNS)], train["label"].to_numpy(int)
    X_test, y_test = test.loc[:, list(HELPFULNESS_COLUMNS)], test["label"].to_numpy(int)
    model = build_model(len(train), seed=seed).fit(X_train, y_train)
    p = model.predict_proba(X_test)[:, 1]
    baseline = MultiplierBaseline().fit(X_train, y_train)
    pb = baseline.predict_proba(X_test)[:, 1]
    final = model
    if refit_on_all:  # the served model learns from everything, holdout included
        final = build_model(len(frame), seed=seed).fit(frame.loc[:, list(HELPFULNESS_COLUMNS)],
                                                        frame["label"].to_numpy(int))
    return TrainedHelpfulness(final, calibration_report(y_test, p), calibration_report(y_test, pb),
                              len(train), len(test), X_test, p, pb)


def register_helpfulness(trained: TrainedHelpfulness, y_holdout: Any, *, tracking_uri: str | None = None,
                         model_name: str | None = None, experiment: str = "autopr-helpfulness",
                         alias: str = "champion", artifact_location: str | None = None) -> str:
    """Log metrics, the reliability plot and the model to MLflow; register it and point ``alias`` at it."""
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow import MlflowClient

    from include.settings import get_settings

    settings = get_settings()
    tracking_uri = tracking_uri or settings.mlflow_tracking_uri
    model_name = model_name or settings.helpfulness_model_name
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(
        experiment, artifact_location=artifact_location or _artifact_location(settings, experiment))
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        with mlflow.start_run(experiment_id=exp_id, run_name="helpfulness-calibration") as run:
            mlflow.log_params({"n_train": trained.n_train, "n_holdout": trained.n_holdout,
                               "method": trained.model.method, "features": ",".join(HELPFULNESS_COLUMNS)})
            mlflow.log_metrics({f"holdout_{k}": v for k, v in trained.holdout.as_dict().items()})
            mlflow.log_metrics({f"multiplier_baseline_{k}": v for k, v in trained.baseline.as_dict().items()})
            with tempfile.TemporaryDirectory() as tmp:
                plot = reliability_plot(y_holdout, {"calibrated model": trained.holdout_p,
                                                    "×1.05/×0.95 multipliers": trained.baseline_p},
                                        str(Path(tmp) / "reliability.png"))
                mlflow.log_artifact(plot)
            info = mlflow.sklearn.log_model(trained.model, name="model", registered_model_name=model_name,
                                            serialization_format="cloudpickle", pip_requirements=_pip_requirements(),
                                            input_example=trained.holdout_frame.head(2))
            version = str(info.registered_model_version)
            client.set_registered_model_alias(model_name, alias, version)
            client.set_model_version_tag(model_name, version, "brier", f"{trained.holdout.brier:.8f}")
            client.set_model_version_tag(model_name, version, "ece", f"{trained.holdout.ece:.5f}")
            client.set_model_version_tag(model_name, version, "run_id", run.info.run_id)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    return version


def _pip_requirements() -> list[str]:
    """Pinned requirements of the model, given explicitly (inferring them imports the model in a subprocess: slow)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("scikit-learn", "numpy", "pandas", "scipy")]


def _artifact_location(settings: Any, experiment: str) -> str | None:
    """Where a new experiment keeps artifacts: the registry's one rule (None lets an HTTP tracking server choose)."""
    from ml.registry import experiment_artifact_location

    return experiment_artifact_location(settings, experiment)


# -- synthetic feedback (benchmarks and tests; clearly not real reviewers) -----------------------
def synthetic_feedback(n: int = 20000, seed: int = 0, repositories: int = 12, rules: int = 60) -> Any:
    """Feedback with a known, context-dependent helpfulness (time-ordered).

    Each rule has a base helpful rate; some rules are much less helpful in
    test files or in particular repositories; higher severities are a bit more
    helpful.  The generator's probability is the truth the calibrated model
    should recover and the multipliers cannot (they know only the rule).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    analyzers = ["ruff", "bandit", "radon", "eslint"]
    sev = ["info", "low", "medium", "high", "critical"]
    rule_names = [f"R{i:03d}" for i in range(rules)]
    rule_an = rng.choice(analyzers, rules)
    rule_logit = rng.normal(0.0, 1.3, rules)
    rule_test_penalty = rng.choice([0.0, -2.0], rules, p=[0.6, 0.4])
    repos = [f"org/repo-{i}" for i in range(repositories)]
    repo_rule = rng.normal(0, 1.0, (repositories, rules)) * (rng.random((repositories, rules)) < 0.15)
    words = ["unused", "variable", "import", "shell", "injection", "complex", "function", "missing", "docstring",
             "password", "hardcoded", "loop", "exception", "broad", "assert"]
    rr = rng.integers(0, rules, n)
    repo = rng.integers(0, repositories, n)
    is_test = rng.random(n) < 0.3
    s = rng.integers(0, 5, n)
    ext = rng.choice(["py", "js", "go", "yaml"], n, p=[0.6, 0.2, 0.15, 0.05])
    logit = rule_logit[rr] + rule_test_penalty[rr] * is_test + repo_rule[repo, rr] + 0.25 * (s - 2)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    start = np.datetime64("2025-01-01T00:00:00")
    t = start + np.sort(rng.integers(0, 300 * 86400, n)).astype("timedelta64[s]")
    frame = pd.DataFrame({
        "message": [" ".join(rng.choice(words, 4)) + f" ({rule_names[r]})" for r in rr],
        "rule": [rule_names[r] for r in rr],
        "analyzer": rule_an[rr],
        "file_path": [("tests/" if it else "src/") + f"m{rng.integers(0, 50)}/f.{e}" for it, e in zip(is_test, ext)],
        "repository": [repos[i] for i in repo],
        "severity": [sev[i] for i in s],
        "label": y,
        "true_p": p,
        "created_at": pd.to_datetime(t, utc=True),
    })
    return frame
