"""Numeric steps: SimpleImputer and StandardScaler as array arithmetic in sklearn's own order and dtypes,
TruncatedSVD as its product, and other numbers-in/numbers-out steps through their own ``transform``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ml.compiled.nodes import Csr, NeedsPipeline, Node, NotCompilable, as_matrix, numeric_2d

#: sklearn matrix-stage steps called through their own ``transform`` on the matrix the Pipeline would hand them.
MATRIX_STEPS = ("TruncatedSVD", "TfidfTransformer", "Normalizer", "MaxAbsScaler", "FunctionTransformer",
                "StandardScaler", "PCA", "Binarizer")


class ImputerNode(Node):
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
        X = numeric_2d(X, n)
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


class ScalerNode(Node):
    """StandardScaler on dense input, in sklearn's order and dtype (moments cast to X's dtype first)."""

    def __init__(self, scaler: Any):
        self.scaler = scaler

    def __call__(self, X: Any, n: int) -> Any:
        if isinstance(X, Csr) or sp.issparse(X):
            return self.scaler.transform(as_matrix(X))
        X = np.array(X, dtype=X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=True)
        if self.scaler.with_mean:
            X -= self.scaler.mean_.astype(X.dtype)
        if self.scaler.with_std:
            X /= self.scaler.scale_.astype(X.dtype)
        return X


class MatrixStepNode(Node):
    """A numbers-in, numbers-out step fitted on a plain matrix: its own transform on the same matrix."""

    def __init__(self, step: Any):
        self.step = step

    def __call__(self, X: Any, n: int) -> Any:
        return self.step.transform(as_matrix(X))


class SVDNode(Node):
    """TruncatedSVD.transform without its input validation: ``X @ components_.T``, as sklearn computes it."""

    def __init__(self, svd: Any):
        # C-contiguous: scipy would otherwise copy the (n_features x k) transposed view on every call; the
        # products are the same numbers (each output sums the row's entries in the same order)
        self.components_T = np.ascontiguousarray(svd.components_.T)

    def __call__(self, X: Any, n: int) -> Any:
        X = as_matrix(X)
        if not (sp.issparse(X) and X.format == "csr") and not isinstance(X, np.ndarray):
            raise NeedsPipeline("SVD input type")
        return X @ self.components_T
