"""Compiled inference for fitted severity Pipelines (``autopr-severity``): records in, probabilities out.

Why this module exists: ``pipeline.predict_proba(issues_frame(records))`` spends
most of a single prediction in pandas (a frame per request, column slicing and
validation) and in sklearn's pure-Python char n-gram analyser; the classifier
itself is a sparse dot product.  When a model version loads, :func:`compile_model`
checks that the model has the shape :func:`ml.features.build_featurizer` gives
it — ``Pipeline([Pipeline([DeriveFeatures, ColumnTransformer]), classifier])`` —
and hands the generic compiler (:mod:`ml.compiled`) the project's part: the
row-wise derivation (:func:`ml.features.issue_columns` →
:func:`ml.features.derive_columns`, the same functions the Pipeline's own
``DeriveFeatures`` step calls), the frame the plain model is fed, and the odd
probe records of the load-time self-check.  Any step the compiler does not know,
or a difference from the model's own answer on the probes, serves the plain
pipeline instead.  A classifier wrapped for recent class priors
(``ml.priors.PriorAdjusted``) compiles as its inner classifier followed by
the same ``ml.priors.adjust_proba``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ml.compiled.compiler import CompiledPredictor, Compiler, checked
from ml.compiled.estimators import ColumnsModel
from ml.compiled.nodes import Columns, NotCompilable


def compile_model(model: Any, probes: Sequence[Mapping[str, Any]] | None = None) -> CompiledPredictor | None:
    """The compiled form of a fitted severity Pipeline, or None when it has none (serve the pipeline).

    ``probes`` are extra records for the self-check (on top of :data:`PROBES`).
    """
    return checked(compile_severity, model, [*PROBES, *(probes or [])])


def compile_severity(model: Any) -> CompiledPredictor:
    """Raises :class:`ml.compiled.nodes.NotCompilable` for anything but the shape ml.features builds."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from ml.features import DeriveFeatures, FeatureInputError, issues_frame
    from ml.priors import PriorAdjusted
    from ml.training import SeverityXGBClassifier

    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        raise NotCompilable("not a Pipeline([features, model])")
    features, clf = model.steps[0][1], model.steps[1][1]
    if not isinstance(features, Pipeline) or len(features.steps) != 2:
        raise NotCompilable("features is not Pipeline([derive, columns])")
    derive_step, ct = features.steps[0][1], features.steps[1][1]
    if type(derive_step) is not DeriveFeatures or not isinstance(ct, ColumnTransformer):
        raise NotCompilable("features is not DeriveFeatures → ColumnTransformer")
    if getattr(ct, "_sklearn_output_config", None) or getattr(features, "_sklearn_output_config", None):
        raise NotCompilable("set_output configured")
    weights = None
    if type(clf) is PriorAdjusted:  # recent class priors around a classifier (ml.priors): compile the inner one
        clf, weights = clf.estimator, clf.weights
    if type(clf) is SeverityXGBClassifier:  # severity labels around an XGBClassifier: the booster scores
        clf = clf.booster_
    # the dtypes the derived frame has, for steps that get pandas input
    derived = derive_step.transform(issues_frame(PROBES[:2]))
    compiler = Compiler({c: derived[c].dtype for c in derived.columns}, frame_step=_project_step)
    classify = compiler.classifier(clf)
    if weights is not None:
        classify = _PriorAdjustedNode(classify, weights)
    return CompiledPredictor(model, derive=_derived, score=ColumnsModel(compiler.column_transformer(ct), classify),
                             frame=_frame, input_errors=(FeatureInputError,), fallback_steps=compiler.fallback_steps)


class _PriorAdjustedNode:
    """A compiled classifier's probabilities moved to new class priors by ``ml.priors.adjust_proba`` (the one formula)."""

    def __init__(self, classify: Any, weights: Any):
        self.classify, self.weights = classify, weights

    def __call__(self, X: Any) -> Any:
        from ml.priors import adjust_proba

        return adjust_proba(self.classify(X), self.weights)


def _derived(records: Sequence[Mapping[str, Any]], now: datetime | None) -> Columns:
    from ml.features import derive_columns, issue_columns

    return derive_columns(issue_columns(records, now=now))


def _frame(records: Sequence[Mapping[str, Any]], now: datetime | None) -> Any:
    from ml.features import issues_frame

    return issues_frame(records, now=now)


def _project_step(est: Any) -> bool:
    """The project's own stateless transformers (a feature block): row-wise when they offer it, else pandas."""
    return type(est).__module__.startswith("ml.")


#: Odd records for the self-check: empty/NaN optionals, unknown categories, unicode, long text, timestamps.
PROBES: list[dict[str, Any]] = [
    {"message": "SQL injection in login form allows remote code execution", "rule": "B608", "analyzer": "bandit",
     "file_path": "src/app/db.py", "line": 12, "repository": "org/web", "pr_size": 120, "complexity": 7,
     "file_lines": 300, "created_at": "2025-06-01T10:00:00Z"},
    {"message": "line too long", "rule": "E501", "analyzer": "ruff", "file_path": "tests/test_x.py"},
    {"message": "x", "rule": "r", "analyzer": "A", "file_path": "Makefile", "line": None, "pr_size": float("nan"),
     "created_at": datetime(2024, 2, 29, 23, 59)},
    {"message": "Déni de service — ReDoS   via\tcatastrophic\nbacktracking ünïcödé 漢字", "rule": "vulnerable-dependency/npm",
     "analyzer": "npm-audit", "file_path": "package-lock.json", "repository": "npm/never-seen-before",
     "complexity": 0, "file_lines": 0, "line": 0, "created_at": datetime(2023, 1, 1, 3, 0, tzinfo=UTC)},
    {"message": " ".join(["cross-site scripting xss overflow denial of service"] * 200), "rule": "GHSA",
     "analyzer": "cargo-audit", "file_path": "a/b/c/d/e/f/Cargo.lock", "pr_size": 1e9, "line": -5},
    {"message": "a", "rule": "b", "analyzer": "c", "file_path": ".hidden", "repository": "",
     "context": {"pr_size": 3, "line": 2, "repository": "Ctx/Repo"}, "created_at": "not a date"},
    {"message": "  padded   message  ", "rule": "  S105 ", "analyzer": "BANDIT", "file_path": "./docs/conf.py",
     "created_at": "2021-07-04 12:30:00+02:00"},
    {"message": "prototype pollution in __proto__ handling, ../../etc/passwd path traversal", "rule": "CWE-1321",
     "analyzer": "semgrep", "file_path": "lib/index.js", "line": 1e6, "complexity": 250.5, "file_lines": 12,
     "repository": "Org/Web"},
    {"message": "use-after-free leads to memory corruption", "rule": "RUSTSEC", "analyzer": "cargo-audit",
     "file_path": "Cargo.lock", "repository": "crates.io/tokio", "created_at": datetime(2022, 5, 5, 5, 5, 5)},
    {"message": "123 456 !!! ??? ...", "rule": "_", "analyzer": "bundler-audit", "file_path": "Gemfile.lock",
     "repository": "rubygems/rack", "pr_size": 0, "complexity": float("nan")},
]
