"""Compiled inference for fitted severity Pipelines: plain numpy/scipy over lists of records.

Why this module exists: ``pipeline.predict_proba(issues_frame(records))`` spends
~20 ms on one issue before the classifier sees it — a pandas frame per request,
``DeriveFeatures``' column arithmetic, ``ColumnTransformer`` slicing and
validation, and sklearn's pure-Python char n-gram analyser.  The model itself
(a sparse dot product) takes ~0.1 ms.  So when a model version is loaded,
:func:`compile_model` walks the *fitted* Pipeline once and turns every step into
a small node that reuses the fitted state (vocabularies, idf, categories,
imputation statistics, scaler moments, coefficients) and computes the same
numbers without pandas:

* records → columns (the contract of :func:`ml.features.issues_frame`, same
  validation and ``FeatureInputError``\\s) → the derived columns of
  :class:`ml.features.DeriveFeatures` row by row;
* ``TfidfVectorizer``/``CountVectorizer``: sklearn's own analyser for words; for
  ``char_wb`` the n-grams of each distinct *word* are looked up once and
  memoised (``char_wb`` never crosses a word boundary, so a document's counts
  are the sum of its words'), then one sparse matrix build and the fitted
  ``_tfidf`` weighting;
* ``OneHotEncoder`` through a category → column table read off the fitted
  encoder itself (unknown/infrequent handling included), ``SimpleImputer`` +
  ``StandardScaler`` as array arithmetic in the estimator's own dtype order,
  ``KeywordGroups`` with the module's own compiled regexes;
* ``LogisticRegression`` as ``X @ coef.T + intercept`` → softmax/expit, the
  XGBoost wrapper through its booster.

Matrix-stage steps that only see numbers (``TruncatedSVD``, ``TfidfTransformer``,
``Normalizer``, ``MaxAbsScaler``, a ``FunctionTransformer`` after the
featuriser) are called through their own ``transform`` on the same matrix the
Pipeline would hand them.  The project's stateless transformers whose code this
module does not mirror (a new feature block) get a pandas frame of exactly the
columns and dtypes the Pipeline would give them.

Never a wrong answer: anything not understood (an unknown step type, a
``DeriveFeatures``/``issues_frame`` whose source changed since the row-wise
copy below was written, categories that are not strings) makes
:func:`compile_model` return ``None`` or use the pandas-backed version of that
step; after compiling, the fast path is checked against
``pipeline.predict_proba(issues_frame(probes))`` on odd probe records and
discarded on any difference above 1e-6; at request time an input the compiled
path cannot express exactly (a non-finite metric, an unknown category under
``handle_unknown="error"``), or any unexpected error inside it, is answered by
the plain pipeline.

Keeping the mirrors in step: ``python -m ml.fast_predict`` says which mirrored
function changed (its source fingerprint differs from the pin below); until the
mirror and the pin are updated that step runs through pandas — exact, slower —
and tests/ml_serving/test_fast_predict.py says so.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import re
import warnings
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

#: Largest |fast - pipeline| probability difference accepted by the load-time self-check.
TOLERANCE = 1e-6
#: Distinct words whose char_wb n-gram indices are memoised per vectoriser (then the memo restarts).
WORD_MEMO_SIZE = 200_000


class NotCompilable(Exception):
    """This fitted estimator has no exact compiled equivalent here (the plain pipeline serves it)."""


class NeedsPipeline(Exception):
    """This input cannot be expressed exactly by the compiled path (the plain pipeline answers it)."""


# ---------------------------------------------------------------------------------------------
# Source fingerprints: the row-wise copies below mirror these functions as they are now.
# ---------------------------------------------------------------------------------------------
def _fingerprint(*objects: Any) -> str:
    digest = hashlib.sha256()
    for obj in objects:
        try:
            digest.update(inspect.getsource(obj).encode())
        except (OSError, TypeError):
            digest.update(repr(obj).encode())
    return digest.hexdigest()[:16]


#: ``issues_frame`` + ``normalise_frame`` (+ helpers) as mirrored by :func:`_raw_columns`.
RAW_FINGERPRINT = "69415714ac97cc4c"
#: ``derive_features`` (+ helpers) as mirrored by :class:`_DeriveNode`.
DERIVE_FINGERPRINT = "fb22fb41f0dbde42"
#: ``KeywordGroups.transform`` as mirrored by :class:`_KeywordNode` (the regexes are read live).
KEYWORDS_FINGERPRINT = "a43a026deed666b8"


def raw_fingerprint() -> str:
    from ml import features

    return _fingerprint(features.issues_frame, features.normalise_frame, features._lookup, features._as_float,
                        features.ISSUE_COLUMNS, features.TEXT_COLUMNS, features.NUMERIC_COLUMNS,
                        features.REQUIRED_COLUMNS)


def derive_fingerprint() -> str:
    from ml import features

    return _fingerprint(features.derive_features, features.file_type, features.path_depth,
                        features.DeriveFeatures.transform, features._TEST_MARKERS)


def keywords_fingerprint() -> str:
    from ml import severity_signals

    return _fingerprint(severity_signals.KeywordGroups.transform, severity_signals._column)


# ---------------------------------------------------------------------------------------------
# Records → raw columns (mirror of ml.features.issues_frame + normalise_frame)
# ---------------------------------------------------------------------------------------------
Columns = dict[str, list[Any]]


def _raw_columns(records: Sequence[Mapping[str, Any]], now: datetime | None) -> Columns:
    from ml.features import (
        ISSUE_COLUMNS,
        NUMERIC_COLUMNS,
        REQUIRED_COLUMNS,
        FeatureInputError,
        _as_float,
        _lookup,
    )

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
    if odd:  # strings, pandas Timestamps, numbers: let pandas parse them, as issues_frame does
        import pandas as pd

        parsed = pd.to_datetime(pd.Series([values[i] for i in odd], dtype=object), utc=True, errors="coerce",
                                format="mixed").dt.tz_localize(None).astype("datetime64[us]")
        for i, ts in zip(odd, parsed, strict=True):
            out[i] = None if pd.isna(ts) else ts.to_pydatetime()
    return out


def _raw_columns_via_pandas(records: Sequence[Mapping[str, Any]], now: datetime | None) -> Columns:
    import pandas as pd

    from ml.features import issues_frame

    frame = issues_frame(records, now=now)
    cols: Columns = {}
    for name in frame.columns:
        if name == "created_at":
            cols[name] = [None if pd.isna(v) else v.to_pydatetime() for v in frame[name].tolist()]
        else:
            cols[name] = frame[name].tolist()
    return cols


def _frame_from_raw(cols: Columns) -> Any:
    """The raw issue frame (exactly what issues_frame returns) from raw columns."""
    import pandas as pd

    from ml.features import normalise_frame

    data = dict(cols)
    data["created_at"] = [pd.NaT if v is None else v for v in cols["created_at"]]
    return normalise_frame(pd.DataFrame(data))


# ---------------------------------------------------------------------------------------------
# Nodes.  Table stage: input is Columns (2-D selection) or a list (1-D, a Series in sklearn).
# Matrix stage: input is a numpy array or scipy sparse matrix.
# ---------------------------------------------------------------------------------------------
class Node(ABC):
    """One compiled step: ``node(X, n)`` transforms the ``n`` rows in ``X`` as the fitted step would."""

    @abstractmethod
    def __call__(self, X: Any, n: int) -> Any: ...


class _PipelineNode(Node):
    def __init__(self, nodes: list[Node]):
        self.nodes = nodes

    def __call__(self, X: Any, n: int) -> Any:
        for node in self.nodes:
            X = node(X, n)
        return X


class _DeriveNode(Node):
    """Row-wise mirror of :func:`ml.features.derive_features` (raw columns → derived columns)."""

    def __call__(self, cols: Columns, n: int) -> Columns:
        from ml.features import _TEST_MARKERS, file_type, path_depth

        paths = cols["file_path"]
        lower_paths = _lower_many(paths)
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
                "text": _lower_many([r + " " + m for r, m in zip(cols["rule"], cols["message"], strict=True)]),
                "analyzer": _lower_many(cols["analyzer"]),
                "file_type": [file_type(p) for p in paths],
                "repository": _lower_many(cols["repository"]),
                "path_depth": np.asarray([path_depth(p) for p in paths], dtype=np.float64),
                "is_test_path": np.asarray([float(any(m in p for m in _TEST_MARKERS)) for p in lower_paths],
                                           dtype=np.float64),
                "line": _log1p_clip(cols["line"]),
                "pr_size": _log1p_clip(cols["pr_size"]),
                "complexity": np.asarray(cols["complexity"], dtype=np.float64),
                "file_lines": _log1p_clip(cols["file_lines"]),
                "message_words": np.log1p(np.asarray(_word_counts(cols["message"]), dtype=np.float64)),
                "hour": np.asarray(hours, dtype=np.float64),
                "weekday": np.asarray(weekdays, dtype=np.float64),
            }


def _plain(text: str) -> bool:
    """ASCII without the information separators: Python's and Arrow's lower()/split() agree on it."""
    return text.isascii() and not _SEPARATORS.search(text)


_SEPARATORS = re.compile("[\x1c-\x1f]")


def _lower_many(texts: list[str]) -> list[str]:
    """``Series.str.lower()`` of the pipeline's frame (Arrow-backed strings: simple case mapping for non-ASCII)."""
    out = [t.lower() if _plain(t) else None for t in texts]
    odd = [i for i, v in enumerate(out) if v is None]
    if odd:
        import pandas as pd

        lowered = pd.Series([texts[i] for i in odd], dtype=str).str.lower().tolist()
        for i, v in zip(odd, lowered, strict=True):
            out[i] = v
    return out


def _word_counts(texts: list[str]) -> list[int]:
    """``Series.str.split().str.len()`` of the pipeline's frame."""
    out = [len(t.split()) if _plain(t) else -1 for t in texts]
    odd = [i for i, v in enumerate(out) if v < 0]
    if odd:
        import pandas as pd

        counts = pd.Series([texts[i] for i in odd], dtype=str).str.split().str.len().tolist()
        for i, v in zip(odd, counts, strict=True):
            out[i] = v
    return out


def _log1p_clip(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return np.log1p(np.where(arr < 0, 0.0, arr))  # Series.clip(lower=0): NaN stays NaN


class _PandasDeriveNode(Node):
    """The real DeriveFeatures step on a real frame (its source changed since the row-wise mirror was written)."""

    def __init__(self, step: Any):
        self.step = step

    def __call__(self, cols: Columns, n: int) -> Columns:
        derived = self.step.transform(_frame_from_raw(cols))
        return {name: (derived[name].to_numpy(dtype=np.float64) if derived[name].dtype.kind == "f"
                       else derived[name].tolist()) for name in derived.columns}


def _select(X: Columns, columns: Any) -> Any:
    if isinstance(columns, str):
        return X[columns]
    return {c: X[c] for c in columns}


def _numeric_2d(X: Any, n: int) -> np.ndarray:
    if isinstance(X, dict):
        arrays = [np.asarray(v, dtype=np.float64) for v in X.values()]
        return np.column_stack(arrays) if arrays else np.empty((n, 0))
    raise NeedsPipeline("numeric block on a 1-D selection")


def _texts(X: Any) -> list[str]:
    if isinstance(X, dict):
        if len(X) != 1:
            raise NeedsPipeline("text block over several columns")
        X = next(iter(X.values()))
    return X


class Csr(NamedTuple):
    """Rows of a CSR matrix without scipy's constructor checks (built and stacked per request)."""

    data: np.ndarray
    indices: np.ndarray  # int32
    indptr: np.ndarray  # int32, starts at 0
    n_cols: int

    def scipy(self) -> Any:
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(len(self.indptr) - 1, self.n_cols))


def _csr(x: Any) -> Csr:
    """Any block output as :class:`Csr`; dense blocks keep their non-zeros, as ``scipy.sparse.hstack`` does."""
    if isinstance(x, Csr):
        return x
    if sp.issparse(x):
        x = x.tocsr()
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
        return Csr(x.data, x.indices.astype(np.int32, copy=False), x.indptr.astype(np.int32, copy=False), x.shape[1])
    dense = np.asarray(x)
    mask = dense != 0
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    return Csr(dense[rows, cols], cols.astype(np.int32), indptr, dense.shape[1])


def _dense(x: Any) -> np.ndarray:
    if isinstance(x, Csr):
        x = x.scipy()
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def _matrix(x: Any) -> Any:
    """What sklearn would hand the next step: a scipy CSR matrix or a dense array."""
    return x.scipy() if isinstance(x, Csr) else x


def _hstack_csr(blocks: list[Any], n: int) -> Csr:
    """``scipy.sparse.hstack(blocks).tocsr()``: each row is its blocks' entries in block order, columns offset."""
    parts = [_csr(b) for b in blocks]
    if n > 64:  # scipy's C++ csr_hstack wins once there are rows to amortise its checks over
        return _csr(sp.hstack([p.scipy() for p in parts], format="csr"))
    dtype = np.result_type(*[p.data.dtype for p in parts])
    counts = [np.diff(p.indptr) for p in parts]
    per_row = np.sum(counts, axis=0) if parts else np.zeros(n, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per_row, out=indptr[1:])
    nnz = int(indptr[-1])
    data = np.empty(nnz, dtype=dtype)
    indices = np.empty(nnz, dtype=np.int32)
    prior = indptr[:-1].astype(np.int64)
    offset = 0
    for part, cnt in zip(parts, counts, strict=True):
        if len(part.data):
            row = np.repeat(np.arange(n), cnt)
            dest = prior[row] + (np.arange(len(part.data)) - part.indptr[row])
            data[dest] = part.data
            indices[dest] = part.indices + offset
        prior += cnt
        offset += part.n_cols
    return Csr(data, indices, indptr, offset)


class _ColumnTransformerNode(Node):
    def __init__(self, blocks: list[tuple[Node, Any]], sparse_output: bool):
        self.blocks = blocks
        self.sparse_output = sparse_output

    def __call__(self, X: Columns, n: int) -> Any:
        outs = [node(_select(X, cols), n) for node, cols in self.blocks]
        if self.sparse_output:
            return _hstack_csr(outs, n)
        return np.hstack([_dense(o) for o in outs])


class _FeatureUnionNode(Node):
    def __init__(self, parts: list[tuple[Node, float | None]]):
        self.parts = parts

    def __call__(self, X: Any, n: int) -> Any:
        outs = []
        for node, weight in self.parts:
            out = node(X, n)
            if weight is not None:
                out = _matrix(out) * weight
            outs.append(out)
        if any(isinstance(o, Csr) or sp.issparse(o) for o in outs):
            return _hstack_csr(outs, n)
        return np.hstack(outs)


class _VectorizerNode(Node):
    """Count/Tfidf vectoriser: fitted vocabulary, counts in one sparse build, fitted idf weighting."""

    def __init__(self, vec: Any):
        self.vec = vec
        self.vocabulary = vec.vocabulary_
        self.n_features = len(self.vocabulary)
        self.dtype = np.dtype(vec.dtype)
        self.char_wb = vec.analyzer == "char_wb"
        if self.char_wb:
            self.decode = vec.decode
            self.preprocess = vec.build_preprocessor()
            self.white = vec._white_spaces
            self.memo: dict[str, array] = {}  # word → its n-grams' vocabulary indices
        else:
            self.analyze = vec.build_analyzer()
        self.tfidf = getattr(vec, "_tfidf", None)
        self.native_tfidf = None
        if self.tfidf is not None and self.dtype in (np.float32, np.float64) and self.tfidf.norm in ("l1", "l2", None):
            try:
                from sklearn.utils import sparsefuncs_fast

                normalize = {"l2": sparsefuncs_fast._inplace_csr_row_normalize_l2,
                             "l1": sparsefuncs_fast._inplace_csr_row_normalize_l1, None: None}[self.tfidf.norm]
                self.native_tfidf = (bool(self.tfidf.sublinear_tf), getattr(self.tfidf, "idf_", None), normalize)
            except (ImportError, AttributeError):
                self.native_tfidf = None

    def _word_indices(self, word: str) -> array:
        hit = self.memo.get(word)
        if hit is None:
            vocab = self.vocabulary
            hit = array("i", [j for j in (vocab.get(g) for g in self.vec._char_wb_ngrams(word)) if j is not None])
            if len(self.memo) >= WORD_MEMO_SIZE:
                self.memo = {}
            self.memo[word] = hit
        return hit

    def __call__(self, X: Any, n: int) -> Any:
        docs = _texts(X)
        cols = array("i")
        ends = array("q")
        if self.char_wb:
            memo, preprocess, decode, white = self.memo, self.preprocess, self.decode, self.white
            for doc in docs:
                text = white.sub(" ", preprocess(decode(doc)))
                for w in text.split():
                    hit = memo.get(w)
                    cols.extend(hit if hit is not None else self._word_indices(w))
                ends.append(len(cols))
        else:
            vocab_get = self.vocabulary.get
            analyze = self.analyze
            found: list[int] = []
            for doc in docs:
                found.extend(j for j in map(vocab_get, analyze(doc)) if j is not None)
                ends.append(len(found))
            cols = array("i", found)
        n_docs = len(docs)
        term = np.frombuffer(cols, dtype=np.intc) if len(cols) else np.zeros(0, dtype=np.intc)
        per_doc = np.diff(np.frombuffer(ends, dtype=np.int64), prepend=0) if n_docs else np.zeros(0, np.int64)
        # one entry per (doc, term), terms ascending within a doc: the layout sklearn's count matrix has
        keys = np.repeat(np.arange(n_docs, dtype=np.int64), per_doc) * self.n_features + term
        keys, counts = np.unique(keys, return_counts=True)
        indices = (keys % self.n_features).astype(np.int32)
        indptr = np.zeros(n_docs + 1, dtype=np.int32)
        np.cumsum(np.bincount(keys // self.n_features, minlength=n_docs), out=indptr[1:])
        data = np.ones(len(keys), dtype=self.dtype) if self.vec.binary else counts.astype(self.dtype)
        if self.tfidf is None:
            return Csr(data, indices, indptr, self.n_features)
        if self.native_tfidf is None:
            return self.tfidf.transform(Csr(data, indices, indptr, self.n_features).scipy(), copy=False)
        # TfidfTransformer.transform, step for step, on the arrays
        sublinear, idf, normalize = self.native_tfidf
        if sublinear:
            np.log(data, data)
            data += 1.0
        if idf is not None:
            data *= idf[indices]
        if normalize is not None:
            normalize(data, (n_docs, self.n_features), indices, indptr)
        return Csr(data, indices, indptr, self.n_features)


def _walk(node: Any) -> list[Any]:
    children = ([n for n, _ in node.blocks] if isinstance(node, _ColumnTransformerNode)
                else [n for n, _ in node.parts] if isinstance(node, _FeatureUnionNode)
                else node.nodes if isinstance(node, _PipelineNode) else [])
    return [node, *(d for c in children for d in _walk(c))]


def _warm_word_memos(root: Node, limit: int = 50_000) -> None:
    """Fill char_wb word memos with the single words a word vectoriser of the same model learnt.

    The memo is a pure function of the word, so this changes no answer; it spares
    the first big batch after a model loads the n-gram analysis of its commonest words.
    """
    nodes = [n for n in _walk(root) if isinstance(n, _VectorizerNode)]
    words = {t for n in nodes if not n.char_wb and n.vec.analyzer == "word" for t in n.vocabulary if " " not in t}
    for node in nodes:
        if node.char_wb:
            for word in sorted(words)[:limit]:
                node._word_indices(word)


class _HashingNode(Node):
    def __init__(self, vec: Any):
        self.vec = vec

    def __call__(self, X: Any, n: int) -> Any:
        return self.vec.transform(_texts(X))


class _KeywordNode(Node):
    """Row-wise mirror of :meth:`ml.severity_signals.KeywordGroups.transform` (the module's live regexes).

    A group's regex only runs on texts that contain one of the literals every
    match of it must contain (read off the parsed pattern; see
    :func:`required_literals`): most texts hit two or three of the groups, and
    ``str.find`` over the whole batch is ~100x cheaper than a regex scan.
    """

    def __call__(self, X: Any, n: int) -> np.ndarray:
        from ml.severity_signals import _COMPILED

        regexes = list(_COMPILED.values())
        texts = _lower_many(_texts(X))
        counts = np.zeros((len(texts), len(regexes) + 1), dtype=np.float64)
        counts[:, len(regexes)] = [len(t) for t in texts]
        joined: str | None = "\x00".join(texts)
        if joined.count("\x00") != len(texts) - 1:
            joined = None  # a NUL inside a text would blur document boundaries: scan each text
        offsets = np.cumsum([0] + [len(t) + 1 for t in texts]) if joined is not None else None
        for k, rx in enumerate(regexes):
            literals = required_literals(rx)
            if literals is None or joined is None:
                candidates = range(len(texts))
            else:
                candidates = _docs_containing(joined, offsets, literals)
            column = counts[:, k]
            for i in candidates:
                hits = len(rx.findall(texts[i]))
                if hits:
                    column[i] = hits
        return np.log1p(counts).astype(np.float32)


def _docs_containing(joined: str, offsets: np.ndarray, literals: frozenset[str]) -> list[int]:
    """Indices of the documents (joined with NUL) that contain any of ``literals``."""
    positions: list[int] = []
    for lit in literals:
        pos = joined.find(lit)
        while pos >= 0:
            positions.append(pos)
            pos = joined.find(lit, pos + 1)
    if not positions:
        return []
    return np.unique(np.searchsorted(offsets, positions, side="right") - 1).tolist()


_LITERALS: dict[tuple[str, int], frozenset[str] | None] = {}


def required_literals(rx: re.Pattern) -> frozenset[str] | None:
    """Strings one of which every match of ``rx`` contains; None when that cannot be read off the pattern."""
    key = (rx.pattern, rx.flags)
    if key not in _LITERALS:
        try:
            from re import _parser as sre_parse  # type: ignore[attr-defined]
        except ImportError:  # pragma: no cover - older Pythons
            import sre_parse  # type: ignore[no-redef]
        result = None
        if isinstance(rx.pattern, str) and not rx.flags & (re.IGNORECASE | re.VERBOSE):
            try:
                result = _necessary(list(sre_parse.parse(rx.pattern, rx.flags)), sre_parse)
            except Exception:  # noqa: BLE001 - any surprise: no prefilter for this pattern
                result = None
        _LITERALS[key] = frozenset(result) if result else None
    return _LITERALS[key]


def _necessary(items: list[Any], sre: Any) -> set[str] | None:
    """Necessary literal set of a sequence of parsed regex items (see :func:`required_literals`)."""
    c = sre  # opcodes live on the parser module's constants
    options: list[set[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            options.append({"".join(run)})
            run = []
        if op is c.SUBPATTERN:
            sub = _necessary(list(arg[-1]), sre)
            if sub:
                options.append(sub)
        elif op is c.BRANCH:
            alts = [_necessary(list(alt), sre) for alt in arg[1]]
            if all(alts):
                options.append(set().union(*alts))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and arg[0] >= 1:
            sub = _necessary(list(arg[2]), sre)
            if sub:
                options.append(sub)
    if run:
        options.append({"".join(run)})
    if not options:
        return None
    # the option whose shortest literal is longest filters best
    return max(options, key=lambda opt: (min(len(s) for s in opt), -len(opt)))


class _PandasStepNode(Node):
    """A frame-stage step with no mirror here (a project transformer, a FunctionTransformer on columns), fed
    what the ColumnTransformer gives it: a frame (list selection) or a named Series (one column), same dtypes."""

    def __init__(self, step: Any, dtypes: Mapping[str, Any], columns: Any):
        self.step = step
        self.dtypes = dtypes
        self.columns = columns

    def __call__(self, X: Any, n: int) -> Any:
        import pandas as pd

        if isinstance(X, dict):
            frame = pd.DataFrame({c: pd.Series(v, dtype=self.dtypes.get(c)) for c, v in X.items()})
            return self.step.transform(frame)
        return self.step.transform(pd.Series(X, dtype=self.dtypes.get(self.columns), name=self.columns))


class _OneHotNode(Node):
    """Category → output column tables read off the fitted encoder (drop/infrequent/unknown included)."""

    def __init__(self, enc: Any, feature_names: list[str], dtypes: Mapping[str, Any]):
        import pandas as pd

        if not all(all(isinstance(c, str) for c in cats) for cats in enc.categories_):
            raise NotCompilable("OneHotEncoder with non-string categories")
        self.enc = enc
        self.features = feature_names
        self.dtype = enc.dtype
        self.sparse = bool(getattr(enc, "sparse_output", True))
        base = {f: cats[0] for f, cats in zip(feature_names, enc.categories_, strict=True)}

        def encode(rows: list[dict[str, str]]) -> Any:
            frame = pd.DataFrame({f: pd.Series([r[f] for r in rows], dtype=dtypes.get(f)) for f in feature_names})
            out = enc.transform(frame)
            return out.toarray() if sp.issparse(out) else np.asarray(out)

        widths = getattr(enc, "_n_features_outs", None)
        if widths is None or len(widths) != len(feature_names):
            raise NotCompilable("OneHotEncoder without per-feature output widths")
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.n_out = int(starts[-1])
        self.tables: list[dict[str, tuple[int, ...]]] = []
        self.unknown: list[tuple[int, ...] | None] = []  # None: unknown values make sklearn raise
        probe = "\x00fast-predict-unknown\x00"
        for k, (f, cats) in enumerate(zip(feature_names, enc.categories_, strict=True)):
            lo, hi = starts[k], starts[k + 1]
            rows = [{**base, f: c} for c in cats]
            out = encode(rows)
            if out.shape[1] != self.n_out:
                raise NotCompilable("OneHotEncoder output width")
            self.tables.append({c: tuple((lo + np.flatnonzero(row[lo:hi])).tolist()) for c, row in zip(cats, out)})
            try:
                unk = encode([{**base, f: probe}])[0]
                self.unknown.append(tuple((lo + np.flatnonzero(unk[lo:hi])).tolist()))
            except ValueError:
                self.unknown.append(None)
            if not np.all((out[:, lo:hi] == 0) | (out[:, lo:hi] == 1)):
                raise NotCompilable("OneHotEncoder output is not 0/1")

    def __call__(self, X: Any, n: int) -> Any:
        if not isinstance(X, dict):
            raise NeedsPipeline("1-D input to OneHotEncoder")
        columns = [X[f] for f in self.features]
        indices: list[int] = []
        indptr = [0]
        for i in range(n):
            for table, unknown, col in zip(self.tables, self.unknown, columns, strict=True):
                value = col[i]
                if not isinstance(value, str):
                    raise NeedsPipeline("non-string category")
                hit = table.get(value)
                if hit is None:
                    if unknown is None:
                        raise NeedsPipeline("unknown category with handle_unknown='error'")
                    hit = unknown
                indices.extend(hit)
            indptr.append(len(indices))
        # features' column ranges ascend and each table entry is sorted: rows come out in canonical order
        out = Csr(np.ones(len(indices), dtype=self.dtype), np.asarray(indices, dtype=np.int32),
                  np.asarray(indptr, dtype=np.int32), self.n_out)
        return out if self.sparse else _dense(out)


class _ImputerNode(Node):
    """SimpleImputer (NaN as missing value, dense input) with its optional missing indicator."""

    def __init__(self, imp: Any):
        if not (isinstance(imp.missing_values, float) and math.isnan(imp.missing_values)):
            raise NotCompilable("SimpleImputer with a missing value other than NaN")
        if np.dtype(getattr(imp, "_fill_dtype", np.float64)) != np.float64:
            raise NotCompilable("SimpleImputer filling other than float64")
        try:  # the constant strategy keeps object statistics; transform casts them to the fill dtype
            stats = np.asarray(imp.statistics_, dtype=np.float64)
        except (TypeError, ValueError):
            raise NotCompilable("SimpleImputer with non-numeric statistics") from None
        if imp.keep_empty_features:
            self.keep = None
            self.stats = stats.astype(np.float64)
        else:
            valid = ~np.isnan(stats)
            self.keep = None if valid.all() else np.flatnonzero(valid)
            self.stats = stats[valid].astype(np.float64)
        self.indicator = imp.indicator_.features_ if imp.add_indicator else None
        self.n_in = stats.shape[0]

    def __call__(self, X: Any, n: int) -> np.ndarray:
        X = _numeric_2d(X, n)
        if X.shape[1] != self.n_in:
            raise NeedsPipeline("imputer input width")
        if np.isinf(X).any():
            raise NeedsPipeline("infinite value")  # sklearn rejects it: let it say so
        mask = np.isnan(X)
        out = X if self.keep is None else X[:, self.keep]
        out_mask = mask if self.keep is None else mask[:, self.keep]
        out = np.where(out_mask, self.stats, out)
        if self.indicator is not None:
            out = np.hstack((out, mask[:, self.indicator]))
        return out


class _ScalerNode(Node):
    """StandardScaler on dense input, in sklearn's order and dtype (moments cast to X's dtype first)."""

    def __init__(self, scaler: Any):
        self.scaler = scaler

    def __call__(self, X: Any, n: int) -> Any:
        if isinstance(X, Csr) or sp.issparse(X):
            return self.scaler.transform(_matrix(X))
        X = np.array(X, dtype=X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=True)
        if self.scaler.with_mean:
            X -= self.scaler.mean_.astype(X.dtype)
        if self.scaler.with_std:
            X /= self.scaler.scale_.astype(X.dtype)
        return X


class _MatrixStepNode(Node):
    """A numbers-in, numbers-out step fitted on a plain matrix: its own transform on the same matrix."""

    def __init__(self, step: Any):
        self.step = step

    def __call__(self, X: Any, n: int) -> Any:
        return self.step.transform(_matrix(X))


class _SVDNode(Node):
    """TruncatedSVD.transform without its input validation: ``X @ components_.T``, as sklearn computes it."""

    def __init__(self, svd: Any):
        # C-contiguous: scipy would otherwise copy the (n_features x k) transposed view on every call; the
        # products are the same numbers (each output sums the row's entries in the same order)
        self.components_T = np.ascontiguousarray(svd.components_.T)

    def __call__(self, X: Any, n: int) -> Any:
        X = _matrix(X)
        if not (sp.issparse(X) and X.format == "csr") and not isinstance(X, np.ndarray):
            raise NeedsPipeline("SVD input type")
        return X @ self.components_T


# -- classifiers ------------------------------------------------------------------------------
class _LogisticNode:
    def __init__(self, clf: Any):
        self.coef_T = np.ascontiguousarray(clf.coef_.T)
        self.intercept = clf.intercept_
        self.binary = len(clf.classes_) <= 2

    def __call__(self, X: Any) -> np.ndarray:
        from sklearn.utils.extmath import softmax

        scores = _matrix(X) @ self.coef_T
        scores = np.asarray(scores) + self.intercept
        if self.binary:
            from scipy.special import expit

            p = expit(scores.reshape(-1))
            return np.vstack([1 - p, p]).T
        return softmax(scores, copy=False)


class _XGBNode:
    """XGBClassifier.predict_proba's own inplace_predict call, without its per-call plumbing."""

    def __init__(self, xgb: Any):
        if xgb.objective not in ("multi:softprob", "binary:logistic") or not xgb._can_use_inplace_predict():
            raise NotCompilable(f"XGBoost objective {xgb.objective}")
        self.booster = xgb.get_booster()
        self.iteration_range = xgb._get_iteration_range(None)
        self.missing = xgb.missing
        self.n_classes = xgb.n_classes_

    def __call__(self, X: Any) -> np.ndarray:
        X = _matrix(X)
        predts = self.booster.inplace_predict(data=X, iteration_range=self.iteration_range, predict_type="value",
                                              missing=self.missing, validate_features=True)
        if predts.ndim == 2 and predts.shape[1] == self.n_classes:
            return predts
        if predts.ndim == 1 and self.n_classes == 2:
            return np.vstack((1 - predts, predts)).transpose()
        raise NeedsPipeline("unexpected XGBoost output shape")


# ---------------------------------------------------------------------------------------------
# Compiler
# ---------------------------------------------------------------------------------------------
_MATRIX_STEPS = ("TruncatedSVD", "TfidfTransformer", "Normalizer", "MaxAbsScaler", "FunctionTransformer",
                 "StandardScaler", "PCA", "Binarizer")


def _fitted_on_frame(step: Any) -> bool:
    return hasattr(step, "feature_names_in_")


class _Compiler:
    def __init__(self, derived_dtypes: Mapping[str, Any] | None):
        self.derived_dtypes = derived_dtypes or {}
        self.fallback_steps: list[str] = []  # steps served through pandas (slower, still exact)

    def table(self, est: Any, columns: Any) -> Node:
        """A step whose input is a column selection (``columns``: str → 1-D, list → 2-D) of derived columns."""
        from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

        from ml.severity_signals import KeywordGroups

        if isinstance(est, Pipeline):
            first = self.table(est.steps[0][1], columns)
            rest = [self.matrix(step) for _, step in est.steps[1:] if step not in (None, "passthrough")]
            return _PipelineNode([first, *rest])
        if isinstance(est, FeatureUnion):
            weights = est.transformer_weights or {}
            parts = [(self.table(t, columns), weights.get(name)) for name, t in est.transformer_list
                     if t not in (None, "drop")]
            if any(t == "passthrough" for _, t in est.transformer_list):
                raise NotCompilable("FeatureUnion passthrough")
            return _FeatureUnionNode(parts)
        if isinstance(est, CountVectorizer):  # TfidfVectorizer too
            if not isinstance(columns, str) or est.input != "content":
                raise NotCompilable("vectoriser over a 2-D selection or non-content input")
            return _VectorizerNode(est)
        if isinstance(est, HashingVectorizer):
            if not isinstance(columns, str) or est.input != "content":
                raise NotCompilable("vectoriser over a 2-D selection or non-content input")
            return _HashingNode(est)
        if type(est) is KeywordGroups:
            if keywords_fingerprint() == KEYWORDS_FINGERPRINT:
                return _KeywordNode()
            self.fallback_steps.append("KeywordGroups")
            return _PandasStepNode(est, self.derived_dtypes, columns)
        if isinstance(est, OneHotEncoder):
            if isinstance(columns, str):
                raise NotCompilable("OneHotEncoder over a 1-D selection")
            return _OneHotNode(est, list(columns), self.derived_dtypes)
        if isinstance(est, SimpleImputer):
            if isinstance(columns, str):
                raise NotCompilable("SimpleImputer over a 1-D selection")
            if any(str(self.derived_dtypes.get(c, "float64")) != "float64" for c in columns):
                raise NotCompilable("SimpleImputer over non-float columns")
            return _ImputerNode(est)
        if type(est).__module__.startswith("ml.") or type(est) is FunctionTransformer:
            if _fitted_on_frame(est) and list(getattr(est, "feature_names_in_", [])) != (
                    [columns] if isinstance(columns, str) else list(columns)):
                raise NotCompilable(f"{type(est).__name__} fitted on other columns")
            self.fallback_steps.append(type(est).__name__)
            return _PandasStepNode(est, self.derived_dtypes, columns)
        return self._no(est)

    def matrix(self, est: Any) -> Node:
        """A step whose input is the numeric matrix the previous step produced."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        if isinstance(est, Pipeline):
            return _PipelineNode([self.matrix(s) for _, s in est.steps if s not in (None, "passthrough")])
        if _fitted_on_frame(est):
            raise NotCompilable(f"{type(est).__name__} fitted on a frame in matrix position")
        if type(est) is StandardScaler:
            return _ScalerNode(est)
        if type(est) is TruncatedSVD:
            return _SVDNode(est)
        if type(est).__module__.startswith("sklearn.") and type(est).__name__ in _MATRIX_STEPS:
            return _MatrixStepNode(est)
        return self._no(est)

    @staticmethod
    def _no(est: Any) -> Node:
        raise NotCompilable(f"no compiled form for {type(est).__module__}.{type(est).__name__}")

    def column_transformer(self, ct: Any) -> Node:
        blocks = []
        for name, trans, columns in ct.transformers_:
            if trans == "drop":
                continue
            if name == "remainder" or trans == "passthrough":
                raise NotCompilable("ColumnTransformer remainder/passthrough")
            if not (isinstance(columns, str) or (isinstance(columns, list) and all(isinstance(c, str) for c in columns))):
                raise NotCompilable("ColumnTransformer column selection other than names")
            if not isinstance(columns, str) and not columns:
                continue
            blocks.append((self.table(trans, columns), columns))
        node = _ColumnTransformerNode(blocks, bool(ct.sparse_output_))
        _warm_word_memos(node)
        return node

    def classifier(self, clf: Any) -> Callable[[Any], np.ndarray]:
        from sklearn.linear_model import LogisticRegression

        from ml.training import SeverityXGBClassifier

        if type(clf) is LogisticRegression:
            return _LogisticNode(clf)
        if type(clf) is SeverityXGBClassifier:
            from xgboost import XGBClassifier

            if type(clf.booster_) is not XGBClassifier:
                raise NotCompilable("SeverityXGBClassifier around something other than XGBClassifier")
            return _XGBNode(clf.booster_)
        raise NotCompilable(f"no compiled form for classifier {type(clf).__name__}")


class FastPredictor:
    """``predict_proba(records)`` equal to ``pipeline.predict_proba(issues_frame(records))``."""

    def __init__(self, pipeline: Any, raw_native: bool, derive: Node, columns: Node,
                 classify: Callable[[Any], np.ndarray], fallback_steps: list[str]):
        self.pipeline = pipeline
        self.raw_native = raw_native
        self.derive = derive
        self.columns = columns
        self.classify = classify
        self.fallback_steps = fallback_steps
        self.classes_ = pipeline.classes_
        self.pipeline_answers = 0  # calls answered by the plain pipeline (NeedsPipeline or a surprise)
        self.surprised = False

    def features(self, records: Sequence[Mapping[str, Any]], now: datetime | None = None) -> Any:
        raw = _raw_columns(records, now) if self.raw_native else _raw_columns_via_pandas(records, now)
        n = len(records)
        return self.columns(self.derive(raw, n), n)

    def _fast(self, records: Sequence[Mapping[str, Any]], now: datetime | None) -> np.ndarray:
        return np.asarray(self.classify(self.features(records, now)), dtype=np.float64)

    def _plain(self, records: Sequence[Mapping[str, Any]], now: datetime | None) -> np.ndarray:
        from ml.features import issues_frame

        return self.pipeline.predict_proba(issues_frame(records, now=now))

    #: input errors the frame builder raises too (same record, same message): never retried
    input_errors: tuple[type[Exception], ...] = ()

    def predict_proba(self, records: Sequence[Mapping[str, Any]], now: datetime | None = None) -> np.ndarray:
        from ml.features import FeatureInputError

        try:
            return self._fast(records, now)
        except (FeatureInputError, *self.input_errors):
            raise  # the frame builder rejects the same record with the same error
        except NeedsPipeline:
            pass
        except Exception:  # a surprise in the compiled path: the pipeline answers, logged once
            if not self.surprised:
                self.surprised = True
                log.exception("compiled inference path failed; answering with the plain pipeline")
        self.pipeline_answers += 1
        return self._plain(records, now)


def compile_model(model: Any, probes: Sequence[Mapping[str, Any]] | None = None) -> FastPredictor | None:
    """The compiled form of a fitted severity Pipeline, or None when it has none (serve the pipeline).

    ``probes`` are extra records for the self-check (on top of built-in odd ones).
    """
    return checked(_compile, model, probes)


def checked(compile_fn: Callable[[Any], FastPredictor], model: Any,
            probes: Sequence[Mapping[str, Any]] | None = None) -> FastPredictor | None:
    """``compile_fn(model)`` if it compiles and passes :func:`self_check`, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast = compile_fn(model)
    except NotCompilable as exc:
        log.info("serving the plain pipeline: %s", exc)
        return None
    except Exception:
        log.exception("compiling the model failed; serving the plain pipeline")
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diff = self_check(fast, [*PROBES, *(probes or [])])
    except Exception:
        log.exception("compiled path self-check failed; serving the plain pipeline")
        return None
    fast.pipeline_answers = 0  # count serving traffic only
    if not diff <= TOLERANCE:
        log.warning("compiled path differs from the pipeline by %.3g; serving the plain pipeline", diff)
        return None
    if fast.fallback_steps:
        log.warning("compiled path serves these steps through pandas (exact, slower): %s", fast.fallback_steps)
    return fast


def _compile(model: Any) -> FastPredictor:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from ml.features import DeriveFeatures, issues_frame

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
    # the dtypes the derived frame has, for steps that get pandas input
    derived = derive_step.transform(issues_frame(PROBES[:2]))
    dtypes = {c: derived[c].dtype for c in derived.columns}
    derive_native = derive_fingerprint() == DERIVE_FINGERPRINT and list(derived.columns) == list(_DERIVED_COLUMNS)
    compiler = _Compiler(dtypes)
    if not derive_native:
        compiler.fallback_steps.append("DeriveFeatures")
    raw_native = raw_fingerprint() == RAW_FINGERPRINT
    if not raw_native:
        compiler.fallback_steps.append("issues_frame")
    return FastPredictor(model, raw_native, _DeriveNode() if derive_native else _PandasDeriveNode(derive_step),
                         compiler.column_transformer(ct), compiler.classifier(clf), compiler.fallback_steps)


_DERIVED_COLUMNS = ("text", "analyzer", "file_type", "repository", "path_depth", "is_test_path", "line", "pr_size",
                    "complexity", "file_lines", "message_words", "hour", "weekday")


def self_check(fast: FastPredictor, records: Sequence[Mapping[str, Any]]) -> float:
    """Largest |fast − pipeline| over ``records`` (scored one by one and as one batch).

    Records the pipeline itself rejects (an unknown category under
    ``handle_unknown="error"``) must be rejected by the compiled path's
    ``predict_proba`` with the same error; they are left out of the comparison.
    """
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    accepted = []
    for record in records:
        try:
            fast._plain([record], now)
        except Exception as plain:  # noqa: BLE001 - compared with the compiled path's answer below
            try:
                fast.predict_proba([record], now)
            except Exception as compiled:  # noqa: BLE001
                if type(compiled) is type(plain) and str(compiled) == str(plain):
                    continue
            return math.inf
        accepted.append(record)
    if not accepted:
        return math.inf
    expected = fast._plain(accepted, now)
    got = fast._fast(accepted, now)
    single = np.vstack([fast._fast([r], now) for r in accepted[:8]])
    if got.shape != expected.shape:
        return math.inf
    return float(max(np.abs(got - expected).max(), np.abs(single - expected[: len(single)]).max()))


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


def _main() -> int:
    """``python -m ml.fast_predict``: are the row-wise mirrors still in step with the code they mirror?"""
    from ml import fast_helpfulness

    rows = [("issues_frame", RAW_FINGERPRINT, raw_fingerprint()),
            ("derive_features", DERIVE_FINGERPRINT, derive_fingerprint()),
            ("KeywordGroups", KEYWORDS_FINGERPRINT, keywords_fingerprint()),
            ("calibration._derive", fast_helpfulness.DERIVE_FINGERPRINT, fast_helpfulness.derive_fingerprint())]
    stale = 0
    for name, pinned, now in rows:
        ok = pinned == now
        stale += not ok
        print(f"{name:<22} {'in step' if ok else f'CHANGED (pinned {pinned}, now {now}): update the mirror, then the pin'}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(_main())
