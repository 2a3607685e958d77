"""Issue → feature frame: the one input contract of every severity model.

Why this module exists: training (from exported Parquet), serving (from API
requests) and benchmarks (from advisories) must turn an issue into model input
the same way, or a model scores something other than what it learnt on.  So
there are exactly two public pieces, each defined once, row by row, over plain
lists (:func:`issue_columns`, :func:`derive_columns`), and put in a frame for
the Pipeline; the compiled serving path (``ml/fast_predict.py``) calls the same
two functions without the frame:

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
from ml.compiled.nodes import Columns
from ml.compiled.strings import lower_many, word_counts

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


def issue_columns(records: Iterable[Mapping[str, Any]], *, now: datetime | None = None) -> Columns:
    """The contract's raw columns (exactly :data:`ISSUE_COLUMNS`) from issue dicts, as plain lists.

    A record is an issue as stored or posted: ``message``, ``rule``,
    ``analyzer``, ``file_path`` required; ``line``, ``repository`` and the
    metrics (``pr_size``, ``complexity``, ``file_lines``) optional, either at
    the top level or inside ``record["context"]``; ``created_at`` optional
    (datetime or ISO text; default ``now``).  Extra keys are ignored, so a
    whole API/DB issue dict can be passed as is.  Text is str, numbers float
    (NaN when unknown), ``created_at`` a naive UTC datetime (None when it does
    not parse).  :func:`issues_frame` and the compiled serving path both start
    here.
    """
    now = now or datetime.now(UTC)
    rows: Columns = {name: [] for name in ISSUE_COLUMNS}
    required = [(name, rows[name].append) for name in REQUIRED_COLUMNS]
    numeric = [(name, rows[name].append) for name in NUMERIC_COLUMNS]
    add_repo, add_created = rows["repository"].append, rows["created_at"].append
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise FeatureInputError(index, "record", f"must be a mapping, got {type(record).__name__}")
        for name, add in required:
            value = record.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise FeatureInputError(index, name, "is required")
            add(str(value))
        add_repo(str(_lookup(record, "repository") or ""))
        for name, add in numeric:
            value = record.get(name)
            if value is None:
                value = _lookup(record, name)
            # _as_float's own result for plain numbers, without the call
            add(float(value) if type(value) is float or type(value) is int else _as_float(value, index, name))
        created = _lookup(record, "created_at")
        add_created(now if created in (None, "") else created)
    rows["created_at"] = _utc_naive(rows["created_at"])
    return rows


def _utc_naive(values: list[Any]) -> list[datetime | None]:
    """``pd.to_datetime(utc=True, errors="coerce", format="mixed").tz_localize(None)`` element-wise; None = NaT."""
    out: list[datetime | None] = []
    odd: list[int] = []
    for i, v in enumerate(values):
        if isinstance(v, datetime) and type(v).__module__ == "datetime":
            out.append(v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v)
        else:
            out.append(None)
            odd.append(i)
    if odd:  # strings, pandas Timestamps, numbers: pandas parses them
        parsed = pd.to_datetime(pd.Series([values[i] for i in odd], dtype=object), utc=True, errors="coerce",
                                format="mixed").dt.tz_localize(None).astype("datetime64[us]")
        for i, ts in zip(odd, parsed, strict=True):
            out[i] = None if pd.isna(ts) else ts.to_pydatetime()
    return out


def issues_frame(records: Iterable[Mapping[str, Any]], *, now: datetime | None = None) -> pd.DataFrame:
    """The model input frame (exactly :data:`ISSUE_COLUMNS`, contract dtypes) from issue dicts (see :func:`issue_columns`)."""
    cols = issue_columns(records, now=now)
    return normalise_frame(pd.DataFrame({**cols, "created_at": [pd.NaT if v is None else v for v in cols["created_at"]]},
                                        columns=list(ISSUE_COLUMNS)))


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


def derive_columns(cols: Columns) -> Columns:
    """Raw columns (as :func:`issue_columns` gives them) → the named features the column transformer consumes.

    The one definition of the derived features: :func:`derive_features` (the
    Pipeline's :class:`DeriveFeatures` step, training and plain serving) puts
    its result in a frame, the compiled serving path feeds it to the compiled
    column transformer as is.  String steps follow pandas' semantics
    (:mod:`ml.compiled.strings`), so the numbers are the ones a frame of
    Arrow-backed strings gives.
    """
    paths = cols["file_path"]
    lower_paths = lower_many(paths)
    hours, weekdays = [], []
    for ts in cols["created_at"]:
        if ts is None:
            hours.append(math.nan)
            weekdays.append(math.nan)
        else:
            hours.append(float(ts.hour))
            weekdays.append(float(ts.weekday()))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "text": lower_many([r + " " + m for r, m in zip(cols["rule"], cols["message"], strict=True)]),
            "analyzer": lower_many(cols["analyzer"]),
            "file_type": [file_type(p) for p in paths],
            "repository": lower_many(cols["repository"]),
            "path_depth": np.asarray([path_depth(p) for p in paths], dtype=np.float64),
            "is_test_path": np.asarray([float(any(m in p for m in _TEST_MARKERS)) for p in lower_paths],
                                       dtype=np.float64),
            "line": _log1p_clip(cols["line"]),
            "pr_size": _log1p_clip(cols["pr_size"]),
            "complexity": np.asarray(cols["complexity"], dtype=np.float64),
            "file_lines": _log1p_clip(cols["file_lines"]),
            "message_words": np.log1p(np.asarray(word_counts(cols["message"]), dtype=np.float64)),
            "hour": np.asarray(hours, dtype=np.float64),
            "weekday": np.asarray(weekdays, dtype=np.float64),
        }


def _log1p_clip(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return np.log1p(np.where(arr < 0, 0.0, arr))  # Series.clip(lower=0): NaN stays NaN


def derive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Raw ISSUE_COLUMNS frame → the derived feature frame (:func:`derive_columns` on the frame's columns)."""
    frame = normalise_frame(frame)
    cols: Columns = {name: frame[name].tolist() for name in TEXT_COLUMNS}
    cols.update({name: frame[name].to_numpy(dtype=np.float64) for name in NUMERIC_COLUMNS})
    cols["created_at"] = [None if ts is pd.NaT else ts for ts in frame["created_at"].tolist()]
    return pd.DataFrame({name: pd.Series(values, index=frame.index, dtype=str if isinstance(values, list) else None)
                         for name, values in derive_columns(cols).items()}, index=frame.index)


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
