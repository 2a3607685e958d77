"""What the learned reviewer ranker (:mod:`ml.reviewers`) is measured against, and how.

Baselines and the evaluation that replays a change history (:func:`evaluate_cut`,
:func:`topk_mrr`) for ``bench/bench_reviewers.py``:

* :func:`popularity_rank` — most reviews so far;
* :class:`PathSimilarity` — the literature's file-path similarity (FPS,
  Thongtanunam et al., "Improving code review effectiveness through reviewer
  recommendations", CHASE 2014): every past review scores the common-path
  similarity of its files to the new change's files, and its reviewers collect
  that score;
* :class:`RevFinder` — the same authors' RevFinder (SANER 2015): several
  path-comparison measures, each ranking candidates, combined by Borda count.
  They live beside the benchmark, not in ``ml/``,
because nothing serves them: the platform ranks with the learned model only.
Every method is fed the same :class:`ml.reviewers.Change` stream, so the
benchmark compares like with like.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ml.reviewers import Change, ReviewerRecommender, ReviewHistory


# -- the benchmark's data -----------------------------------------------------------------------
def changes_from_frame(frame: Any) -> list[Change]:
    """Changes from a frame shaped like ``reviews_golang_tools.parquet`` (sorted by time)."""
    frame = frame.sort_values("committed_at", kind="stable")
    return [
        Change.of(row.committed_at, row.author, list(row.files), list(row.reviewers), str(row.change))
        for row in frame.itertuples(index=False)
    ]


# -- baselines --------------------------------------------------------------------------------
def popularity_rank(history: ReviewHistory, author: str) -> list[str]:
    """Most reviews so far first (the baseline every recommender must beat)."""
    cand = history.candidates(author)
    order = np.argsort(-history.reviews_total[cand], kind="stable")
    return [history.names[cand[i]] for i in order]


class _Growable:
    """An append-only numpy vector (amortised O(1) append, O(1) view)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: Any = np.float64):
        self.data = np.zeros(16, dtype=dtype)
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == len(self.data):
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
        self.data[self.size] = value
        self.size += 1

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.size]


class PathSimilarity:
    """File-path similarity (FPS): a candidate's score is the path similarity of the change to the reviews they did.

    For a new change ``n`` and each past change ``p``::

        FPS(n, p) = sum over file pairs (f, g) of common(f, g) / max(len(f), len(g))  /  (|files(n)| * |files(p)|)

    with ``common`` the number of leading path components ``f`` and ``g``
    share (``suffix=True``: trailing ones) and ``len`` a path's component count.
    Every reviewer of ``p`` collects ``FPS(n, p)``; candidates are ranked by the
    sum, the author left out.  This is the paper's score with its time factor
    at 1 (every past review counts the same).  Inverted indexes over path
    prefixes/suffixes (numpy postings) keep it fast enough to replay thousands
    of changes.
    """

    def __init__(self, max_files: int = 50):
        self.max_files = max_files
        self.people: dict[str, int] = {}
        self.names: list[str] = []
        self._postings: dict[tuple[bool, tuple[str, ...]], tuple[_Growable, _Growable]] = {}
        self._nfiles = _Growable()
        self._rev_change = _Growable(np.int64)
        self._rev_person = _Growable(np.int64)

    def _pid(self, p: str) -> int:
        if p not in self.people:
            self.people[p] = len(self.names)
            self.names.append(p)
        return self.people[p]

    def add(self, change: Change) -> None:
        idx = self._nfiles.size
        files = change.files[: self.max_files]
        self._nfiles.append(len(files))
        for r in change.reviewers:
            self._rev_change.append(idx)
            self._rev_person.append(self._pid(r))
        for f in files:
            parts = tuple(f.split("/"))
            n = len(parts)
            for d in range(1, n + 1):
                for key in ((False, parts[:d]), (True, parts[-d:])):
                    post = self._postings.get(key)
                    if post is None:
                        post = self._postings[key] = (_Growable(np.int64), _Growable())
                    post[0].append(idx)
                    post[1].append(n)

    def _measure(self, files: Sequence[str], suffix: bool) -> np.ndarray:
        """FPS(change, p) for every past change p (common prefix, or common suffix when ``suffix``)."""
        n_changes = self._nfiles.size
        sim = np.zeros(n_changes)
        files = files[: self.max_files]
        for f in files:
            parts = tuple(f.split("/"))
            n = len(parts)
            for d in range(1, n + 1):
                post = self._postings.get((suffix, parts[-d:] if suffix else parts[:d]))
                if post is None:
                    break
                # each matching level adds one component to the common prefix/suffix
                sim += np.bincount(post[0].view, weights=1.0 / np.maximum(post[1].view, n), minlength=n_changes)
        return sim / (max(len(files), 1) * np.maximum(self._nfiles.view, 1.0))

    def _scores(self, files: Sequence[str], author: str, suffix: bool) -> np.ndarray:
        sim = self._measure(files, suffix)
        scores = np.bincount(self._rev_person.view, weights=sim[self._rev_change.view], minlength=len(self.names))
        a = self.people.get(author)
        if a is not None:
            scores[a] = 0.0
        return scores

    def rank(self, files: Sequence[str], author: str) -> list[str]:
        if not self._nfiles.size:
            return []
        scores = self._scores(files, author, suffix=False)
        order = np.argsort(-scores, kind="stable")
        return [self.names[p] for p in order if scores[p] > 0]


class RevFinder(PathSimilarity):
    """RevFinder (Thongtanunam et al., SANER 2015): path-comparison measures combined by Borda count.

    Implemented here: two of the paper's four measures — the common prefix
    (:class:`PathSimilarity`'s score) and the common suffix of path components —
    each ranks the candidates, and a candidate's Borda points are summed over
    the two rankings.
    """

    def rank(self, files: Sequence[str], author: str) -> list[str]:
        if not self._nfiles.size:
            return []
        borda = np.zeros(len(self.names))
        for suffix in (False, True):
            scores = self._scores(files, author, suffix)
            order = np.argsort(-scores, kind="stable")
            ranked = order[scores[order] > 0]
            borda[ranked] += len(ranked) - np.arange(len(ranked))
        order = np.argsort(-borda, kind="stable")
        return [self.names[p] for p in order if borda[p] > 0]


# -- evaluation ---------------------------------------------------------------------------------
def topk_mrr(ranked_lists: Sequence[Sequence[str]], truths: Sequence[Iterable[str]], ks: Sequence[int] = (1, 3, 5, 10)) -> dict[str, float]:
    """Top-k accuracy (any true reviewer in the first k) and mean reciprocal rank of the first hit."""
    hits = {k: 0 for k in ks}
    rr = 0.0
    for ranked, truth in zip(ranked_lists, truths):
        truth = set(truth)
        first = next((i for i, r in enumerate(ranked) if r in truth), None)
        if first is not None:
            rr += 1.0 / (first + 1)
            for k in ks:
                hits[k] += first < k
    n = max(len(ranked_lists), 1)
    out = {f"top{k}": hits[k] / n for k in ks}
    out["mrr"] = rr / n
    out["n"] = float(len(ranked_lists))
    return out


def evaluate_cut(changes: Sequence[Change], cut: int, end: int | None = None, *, with_path_baselines: bool = True,
                 **params: Any) -> dict[str, dict[str, float]]:
    """Train on changes[:cut], then walk changes[cut:end] in order: rank each, then add it to history.

    Every method sees exactly the history before the change it ranks; the
    learned model's weights come from the training part only.  ``end`` closes
    the test window (default: the end of the history), so several cuts can
    test disjoint windows and count each change once.
    """
    rec = ReviewerRecommender(**params).fit(changes[:cut])
    pop_hist = rec.history  # popularity reads the same counters
    path_methods = {"path-sim": PathSimilarity(), "revfinder": RevFinder()} if with_path_baselines else {}
    for method in path_methods.values():
        for change in changes[:cut]:
            method.add(change)
    ranked: dict[str, list[list[str]]] = {"learned": [], "popularity": [], **{name: [] for name in path_methods}}
    truths = []
    for change in changes[cut:end]:
        if not change.reviewers:
            continue
        truths.append(change.reviewers)
        ranked["learned"].append(rec.rank(change.files, change.author, change.at))
        ranked["popularity"].append(popularity_rank(pop_hist, change.author))
        for name, method in path_methods.items():
            ranked[name].append(method.rank(change.files, change.author))
            method.add(change)
        rec.update(change)
    return {name: topk_mrr(lists, truths) for name, lists in ranked.items() if lists}
