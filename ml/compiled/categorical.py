"""OneHotEncoder through category → output-column tables read off the fitted encoder itself.

The tables are built by asking the encoder to encode each known category (and
one never-seen value), so drop, infrequent grouping and unknown handling are
the encoder's own; nothing about its rules is re-implemented.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from ml.compiled.nodes import Csr, NeedsPipeline, Node, NotCompilable, as_dense


class OneHotNode(Node):
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
        return out if self.sparse else as_dense(out)
