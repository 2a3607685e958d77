"""Issue → feature frame: the one input contract of every severity model.

Why this module exists: training (from exported Parquet), serving (from API
requests) and benchmarks (from advisories) must turn an issue into model input
the same way, or a model scores something other than what it learnt on.  So
there are exactly two public pieces:

* :data:`ISSUE_COLUMNS` and :func:`issues_frame` — the raw columns a model
  takes, built from plain issue dicts (the shape ``record_review`` stores and
  the API accepts).  A registered ``autopr-severity`` model is fed
  ``issues_frame(records)`` and nothing else.
* :func:`build_featurizer` — the sklearn transformer that derives features from
  those raw columns (text of message + rule, analyser, file type, path depth,
  code metrics, PR size, time).  It is the first step of every model
  Pipeline, so one MLflow model holds featurisation and prediction.

Everything here is deterministic and stateless except the fitted vectoriser
inside the featurizer, which lives (and is versioned) inside the model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from include.enums import Severity

# --------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------
#: Raw model input columns, in order.  Text columns are str ("" when unknown);
#: numeric ones are float (NaN when unknown); ``created_at`` is a timezone-naive UTC
#: timestamp (MLflow model signatures only accept naive datetimes).
ISSUE_COLUMNS: tuple[str, ...] = (
    "message",  # str  - what the analyser / reviewer said
    "rule",  # str  - rule id (ruff code, bandit test id, advisory class, ...)
    "analyzer",  # str  - ruff, bandit, radon, an external tool's name, ...
    "file_path",  # str  - repository-relative POSIX path
    "line",  # float - 1-based line, NaN when the issue is file-level
    "repository",  # str  - owner/name (or package for advisories)
    "pr_size",  # float - lines changed in the reviewed change, NaN when unknown
    "complexity",  # float - cyclomatic complexity of the file/function, NaN when unknown
    "file_lines",  # float - size of the file in lines, NaN when unknown
    "created_at",  # datetime64, naive UTC - when the issue was raised (now when unknown)
)
TEXT_COLUMNS: tuple[str, ...] = ("message", "rule", "analyzer", "file_path", "repository")
NUMERIC_COLUMNS: tuple[str, ...] = ("line", "pr_size", "complexity", "file_lines")
#: Optional columns may be missing from a record; they are looked up in ``record["context"]`` too.
OPTIONAL_COLUMNS: tuple[str, ...] = ("line", "repository", "pr_size", "complexity", "file_lines", "created_at")
#: Columns every record must give (non-empty).
REQUIRED_COLUMNS: tuple[str, ...] = ("message", "rule", "analyzer", "file_path")

#: Label of the severity model: values of :class:`include.enums.Severity`.
LABEL_COLUMN = "severity"
SEVERITY_LABELS: tuple[str, ...] = tuple(s.value for s in Severity)  # ordinal, weakest first


class FeatureInputError(ValueError):
    """A record cannot be turned into model input; ``field`` names the culprit."""

    def __init__(self, index: int, field: str, message: str):
        super().__init__(f"record {index}: field {field!r} {message}")
        self.index, self.field = index, field


def _lookup(record: Mapping[str, Any], name: str) -> Any:
    if name in record and record[name] is not None:
        return record[name]
    context = record.get("context")
    if isinstance(context, Mapping):
        return context.get(name)
    return None


def _as_float(value: Any, index: int, field: str) -> float:
    if value is None or value == "":
        return math.nan
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise FeatureInputError(index, field, f"must be a number, got {value!r}") from None
    return result


def issues_frame(records: Iterable[Mapping[str, Any]], *, now: datetime | None = None) -> pd.DataFrame:
    """Build the model input frame (exactly :data:`ISSUE_COLUMNS`) from issue dicts.

    A record is an issue as stored or posted: ``message``, ``rule``,
    ``analyzer``, ``file_path`` required; ``line``, ``repository`` and the
    metrics (``pr_size``, ``complexity``, ``file_lines``) optional, either at
    the top level or inside ``record["context"]``; ``created_at`` optional
    (datetime or ISO text; default ``now``).  Extra keys are ignored, so a
    whole API/DB issue dict can be passed as is.
    """
    now = now or datetime.now(UTC)
    rows: dict[str, list[Any]] = {name: [] for name in ISSUE_COLUMNS}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise FeatureInputError(index, "record", f"must be a mapping, got {type(record).__name__}")
        for name in REQUIRED_COLUMNS:
            value = record.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise FeatureInputError(index, name, "is required")
            rows[name].append(str(value))
        rows["repository"].append(str(_lookup(record, "repository") or ""))
        for name in NUMERIC_COLUMNS:
            rows[name].append(_as_float(_lookup(record, name), index, name))
        created = _lookup(record, "created_at")
        rows["created_at"].append(now if created in (None, "") else created)
    frame = pd.DataFrame(rows, columns=list(ISSUE_COLUMNS))
    return normalise_frame(frame)


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a frame that has the ISSUE_COLUMNS to the contract's dtypes (copy)."""
    missing = [c for c in ISSUE_COLUMNS if c not in frame.columns]
    if missing:
        raise FeatureInputError(0, missing[0], "column is missing from the input frame")
    out = frame.loc[:, list(ISSUE_COLUMNS)].copy()
    for name in TEXT_COLUMNS:
        out[name] = out[name].fillna("").astype(str)
    for name in NUMERIC_COLUMNS:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    out["created_at"] = (
        pd.to_datetime(out["created_at"], utc=True, errors="coerce", format="mixed").dt.tz_localize(None)
        .astype("datetime64[us]")
    )
    return out


# --------------------------------------------------------------------------------------
# Derived features (inside the model Pipeline)
# --------------------------------------------------------------------------------------
def file_type(path: str) -> str:
    """Lower-case extension without the dot; the name itself for dotless files (Makefile, Gemfile.lock → lock)."""
    name = path.rsplit("/", 1)[-1].lower()
    if "." in name.lstrip("."):
        return name.rsplit(".", 1)[-1]
    return name or "none"


def path_depth(path: str) -> int:
    return len([part for part in path.split("/") if part and part != "."])


_TEST_MARKERS = ("test", "spec", "fixture", "example", "docs/", "doc/", "bench")


def derive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Raw ISSUE_COLUMNS → the named features the column transformer consumes."""
    frame = normalise_frame(frame)
    paths = frame["file_path"]
    created = frame["created_at"]
    lower_paths = paths.str.lower()
    derived = pd.DataFrame(
        {
            "text": (frame["rule"] + " " + frame["message"]).str.lower(),
            "analyzer": frame["analyzer"].str.lower(),
            "file_type": paths.map(file_type),
            "repository": frame["repository"].str.lower(),
            "path_depth": paths.map(path_depth).astype("float64"),
            "is_test_path": lower_paths.map(lambda p: float(any(m in p for m in _TEST_MARKERS))),
            "line": np.log1p(frame["line"].clip(lower=0)),
            "pr_size": np.log1p(frame["pr_size"].clip(lower=0)),
            "complexity": frame["complexity"],
            "file_lines": np.log1p(frame["file_lines"].clip(lower=0)),
            "message_words": np.log1p(frame["message"].str.split().str.len().astype("float64")),
            "hour": created.dt.hour.astype("float64"),
            "weekday": created.dt.weekday.astype("float64"),
        },
        index=frame.index,
    )
    return derived


CATEGORICAL_FEATURES: tuple[str, ...] = ("analyzer", "file_type", "repository")
NUMERIC_FEATURES: tuple[str, ...] = (
    "path_depth",
    "is_test_path",
    "line",
    "pr_size",
    "complexity",
    "file_lines",
    "message_words",
    "hour",
    "weekday",
)


class DeriveFeatures(TransformerMixin, BaseEstimator):
    """Pipeline step: raw issue frame → derived feature frame (stateless)."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> DeriveFeatures:
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_features(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(["text", *CATEGORICAL_FEATURES, *NUMERIC_FEATURES], dtype=object)


def build_featurizer(*, max_text_features: int = 20000, min_category_frequency: int = 2,
                     text_components: int | None = None, keywords: bool = False):
    """The featurisation half of every severity Pipeline.

    Word 1-2-grams plus character 3-5-grams of ``rule + message`` (TF-IDF,
    sublinear), one-hot analyser / file type / repository (rare values
    grouped), and imputed numeric metrics with missing-value indicators.

    ``keywords`` adds :class:`ml.severity_signals.KeywordGroups`: log-counts of
    security-vocabulary groups ("remote code execution", "denial of service",
    "cross-site scripting", ...) and the text length, from ``rule + message``
    only.  Like every block here it reads only what an issue carries (message,
    rule, analyser, file path, repository, metrics, created_at) — never the
    label, a CVSS score/vector/version or anything derived from them.

    ``text_components`` compresses the text block with truncated SVD (latent
    semantic analysis) to that many dense dimensions: tree models split on a
    few hundred informative columns far faster than on tens of thousands of
    sparse n-grams, and generalise better from them.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    text = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, max_features=max_text_features, sublinear_tf=True, dtype=np.float32
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    min_df=3,
                    max_features=max_text_features,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    if text_components:
        from sklearn.decomposition import TruncatedSVD

        text = Pipeline([("tfidf", text), ("svd", TruncatedSVD(n_components=text_components, random_state=0))])
    blocks: list[tuple[str, Any, Any]] = []
    if keywords:
        from ml.severity_signals import KeywordGroups

        blocks.append(("keywords", Pipeline([("groups", KeywordGroups()), ("scale", StandardScaler())]), ["text"]))
    columns = ColumnTransformer(
        [
            *blocks,
            ("text", text, "text"),
            (
                "categories",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=min_category_frequency),
                list(CATEGORICAL_FEATURES),
            ),
            (
                "numbers",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                list(NUMERIC_FEATURES),
            ),
        ],
        sparse_threshold=1.0,
    )
    return Pipeline([("derive", DeriveFeatures()), ("columns", columns)])
