"""The node contract and the plumbing every compiled step shares (column selection, sparse rows, unions).

A node is one fitted step in compiled form: ``node(X, n)`` transforms the
``n`` rows in ``X`` as the fitted step would.  Table-stage input is
:data:`Columns` (a 2-D selection) or one column's list (a 1-D selection, a
Series in sklearn); matrix-stage input is a numpy array, a scipy sparse
matrix or :class:`Csr`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

#: Column name → one value per row (a list, or a float64 array for numbers).
Columns = dict[str, Any]


class NotCompilable(Exception):
    """This fitted estimator has no exact compiled equivalent here (the plain model serves it)."""


class NeedsPipeline(Exception):
    """This input cannot be expressed exactly by the compiled path (the plain model answers it)."""


class Node(ABC):
    """One compiled step: ``node(X, n)`` transforms the ``n`` rows in ``X`` as the fitted step would."""

    @abstractmethod
    def __call__(self, X: Any, n: int) -> Any: ...


class PipelineNode(Node):
    def __init__(self, nodes: list[Node]):
        self.nodes = nodes

    def __call__(self, X: Any, n: int) -> Any:
        for node in self.nodes:
            X = node(X, n)
        return X


class Csr(NamedTuple):
    """Rows of a CSR matrix without scipy's constructor checks (built and stacked per request)."""

    data: np.ndarray
    indices: np.ndarray  # int32
    indptr: np.ndarray  # int32, starts at 0
    n_cols: int

    def scipy(self) -> Any:
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(len(self.indptr) - 1, self.n_cols))


def as_csr(x: Any) -> Csr:
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


def as_dense(x: Any) -> np.ndarray:
    if isinstance(x, Csr):
        x = x.scipy()
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def as_matrix(x: Any) -> Any:
    """What sklearn would hand the next step: a scipy CSR matrix or a dense array."""
    return x.scipy() if isinstance(x, Csr) else x


def hstack_csr(blocks: list[Any], n: int) -> Csr:
    """``scipy.sparse.hstack(blocks).tocsr()``: each row is its blocks' entries in block order, columns offset."""
    parts = [as_csr(b) for b in blocks]
    if n > 64:  # scipy's C++ csr_hstack wins once there are rows to amortise its checks over
        return as_csr(sp.hstack([p.scipy() for p in parts], format="csr"))
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


def select(X: Columns, columns: Any) -> Any:
    """A ColumnTransformer's selection: one column's values (str) or a sub-table (list of names)."""
    if isinstance(columns, str):
        return X[columns]
    return {c: X[c] for c in columns}


def numeric_2d(X: Any, n: int) -> np.ndarray:
    if isinstance(X, dict):
        arrays = [np.asarray(v, dtype=np.float64) for v in X.values()]
        return np.column_stack(arrays) if arrays else np.empty((n, 0))
    raise NeedsPipeline("numeric block on a 1-D selection")


def texts_of(X: Any) -> list[str]:
    if isinstance(X, dict):
        if len(X) != 1:
            raise NeedsPipeline("text block over several columns")
        X = next(iter(X.values()))
    return X


class ColumnTransformerNode(Node):
    def __init__(self, blocks: list[tuple[Node, Any]], sparse_output: bool):
        self.blocks = blocks
        self.sparse_output = sparse_output

    def __call__(self, X: Columns, n: int) -> Any:
        outs = [node(select(X, cols), n) for node, cols in self.blocks]
        if self.sparse_output:
            return hstack_csr(outs, n)
        return np.hstack([as_dense(o) for o in outs])


class FeatureUnionNode(Node):
    def __init__(self, parts: list[tuple[Node, float | None]]):
        self.parts = parts

    def __call__(self, X: Any, n: int) -> Any:
        outs = []
        for node, weight in self.parts:
            out = node(X, n)
            if weight is not None:
                out = as_matrix(out) * weight
            outs.append(out)
        if any(isinstance(o, Csr) or sp.issparse(o) for o in outs):
            return hstack_csr(outs, n)
        return np.hstack(outs)


class RowwiseNode(Node):
    """A stateless table-stage transformer that computes itself row-wise: its own ``transform_rows``.

    The protocol: ``transform_rows(values)`` takes one column's values as a
    list (a selection of one column, by name or as a one-name list) or
    :data:`Columns` (several), and is what the step's own ``transform`` calls
    after turning its frame into those values, so the two cannot drift apart.
    """

    def __init__(self, step: Any):
        self.transform_rows = step.transform_rows

    def __call__(self, X: Any, n: int) -> Any:
        if isinstance(X, dict) and len(X) == 1:
            X = next(iter(X.values()))
        return self.transform_rows(X)


class PandasStepNode(Node):
    """A table-stage step with no row-wise form (a FunctionTransformer on columns, a project transformer), fed
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


def walk(node: Any) -> list[Any]:
    """The node and every node below it."""
    children = ([n for n, _ in node.blocks] if isinstance(node, ColumnTransformerNode)
                else [n for n, _ in node.parts] if isinstance(node, FeatureUnionNode)
                else node.nodes if isinstance(node, PipelineNode) else [])
    return [node, *(d for c in children for d in walk(c))]
