"""Count/Tfidf/Hashing vectorisers over a list of documents, with the fitted vocabulary and idf weighting.

``char_wb`` n-grams never cross a word boundary, so a document's counts are the
sum of its words': each distinct word's n-gram indices are looked up once and
memoised.  Word analysers run sklearn's own analyser.  The counts become one
sparse build in sklearn's layout, then the fitted ``_tfidf`` weighting step for
step.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from ml.compiled.nodes import Csr, Node, texts_of, walk

#: Distinct words whose char_wb n-gram indices are memoised per vectoriser (then the memo restarts).
WORD_MEMO_SIZE = 200_000


class VectorizerNode(Node):
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

    def word_indices(self, word: str) -> array:
        hit = self.memo.get(word)
        if hit is None:
            vocab = self.vocabulary
            hit = array("i", [j for j in (vocab.get(g) for g in self.vec._char_wb_ngrams(word)) if j is not None])
            if len(self.memo) >= WORD_MEMO_SIZE:
                self.memo = {}
            self.memo[word] = hit
        return hit

    def __call__(self, X: Any, n: int) -> Any:
        docs = texts_of(X)
        cols = array("i")
        ends = array("q")
        if self.char_wb:
            memo, preprocess, decode, white = self.memo, self.preprocess, self.decode, self.white
            for doc in docs:
                text = white.sub(" ", preprocess(decode(doc)))
                for w in text.split():
                    hit = memo.get(w)
                    cols.extend(hit if hit is not None else self.word_indices(w))
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


class HashingNode(Node):
    def __init__(self, vec: Any):
        self.vec = vec

    def __call__(self, X: Any, n: int) -> Any:
        return self.vec.transform(texts_of(X))


def warm_word_memos(root: Node, limit: int = 50_000) -> None:
    """Fill char_wb word memos with the single words a word vectoriser of the same model learnt.

    The memo is a pure function of the word, so this changes no answer; it spares
    the first big batch after a model loads the n-gram analysis of its commonest words.
    """
    nodes = [n for n in walk(root) if isinstance(n, VectorizerNode)]
    words = {t for n in nodes if not n.char_wb and n.vec.analyzer == "word" for t in n.vocabulary if " " not in t}
    for node in nodes:
        if node.char_wb:
            for word in sorted(words)[:limit]:
                node.word_indices(word)
