"""Reviewer recommendations learned from change history.

For a change (its files and author) rank the people most likely to review it
and say why: expertise on the touched paths, a history of reviewing this
author, recency, and how many review requests they already have open.

How it works (one pass over time-ordered history, never looking ahead):

* :class:`ReviewHistory` keeps exponentially decayed counters, updated change
  by change: who reviewed under each path prefix (the file, its directory, the
  directory above, the top-level directory), who authored there, who reviewed
  whom, and when each person last reviewed.  Decay lets the ranking follow
  team changes (people leave, ownership moves) without a sliding window.
* :meth:`ReviewHistory.candidate_features` turns that state into one feature
  row per candidate reviewer (everyone who reviewed before, minus the author).
* :class:`ReviewerRecommender` fits a gradient-boosted classifier on those rows
  ("was this candidate a reviewer of this change?") computed chronologically,
  so each training row only saw history from before its change; ranking is by
  the predicted probability, divided by a load penalty for open requests.

This module is the model only: it reads no database (the project's history
is loaded and the fitted model cached by :mod:`ml.reviewer_service`), and the
baselines and evaluation it is benchmarked against live in
``bench/reviewer_baselines.py``.  Only numpy is imported at module level;
scikit-learn is imported where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

DAY = 86400.0
PATH_LEVELS = ("file", "dir", "parent", "top")
FEATURE_NAMES = (
    "reviews_total_log",
    "reviews_share_decayed",
    "activity_share_recent",
    "days_since_last_review_log",
    "author_pair_share",
    "author_pair_log",
    "reciprocity_log",
    *(f"path_share_{lvl}" for lvl in PATH_LEVELS),
    *(f"path_count_{lvl}_log" for lvl in PATH_LEVELS),
    "path_authored_dir_log",
    "author_known",
)


@dataclass(frozen=True)
class Change:
    """One change of the history: when, by whom, which files, reviewed by whom."""

    at: float  # POSIX seconds (UTC)
    author: str
    files: tuple[str, ...]
    reviewers: tuple[str, ...] = ()
    key: str = ""

    @staticmethod
    def of(at: datetime | float, author: str, files: Iterable[str], reviewers: Iterable[str] = (), key: str = "") -> Change:
        return Change(posix_seconds(at), author, tuple(files), tuple(r for r in reviewers if r != author), key)


def posix_seconds(at: datetime | float) -> float:
    """POSIX seconds of a point in time; a naive datetime means UTC.

    UTC because every source of history writes it: the app database hands back
    aware UTC datetimes (``include.db.types.UTCDateTime``, which reads naive
    values the same way) and exported change histories store UTC without an
    offset.  ``datetime.timestamp()`` alone would read a naive value in the
    host's local time zone, so the same history would rank differently per host.
    """
    if isinstance(at, datetime):
        return (at.replace(tzinfo=UTC) if at.utcoffset() is None else at).timestamp()
    return float(at)


def path_prefixes(files: Iterable[str], max_files: int = 200) -> dict[str, set[str]]:
    """The change's distinct path prefixes per level (file, dir, parent dir, top dir).

    Big mechanical changes touch thousands of files; deduplicating prefixes keeps
    one such change from drowning the counters of a directory.
    """
    out: dict[str, set[str]] = {lvl: set() for lvl in PATH_LEVELS}
    for i, path in enumerate(files):
        if i >= max_files:
            break
        parts = path.strip("/").split("/")
        out["file"].add(path)
        out["dir"].add("/".join(parts[:-1]) + "/")
        out["parent"].add("/".join(parts[:-2]) + "/")
        out["top"].add(parts[0] + ("/" if len(parts) > 1 else ""))
    return out


class _Decayed:
    """Decayed counters without touching every entry at every step.

    A value added at time t is stored as w·exp(λ(t - t0)); reading it at time
    T multiplies by exp(-λ(T - t0)).  When the exponent grows large the
    reference t0 moves forward (``rebase``) so floats never overflow.
    """

    def __init__(self, half_life_days: float):
        self.rate = math.log(2) / (half_life_days * DAY)
        self.t0: float | None = None

    def weight(self, t: float) -> float:
        if self.t0 is None:
            self.t0 = t
        return math.exp(self.rate * (t - self.t0))

    def read_scale(self, t: float) -> float:
        return 1.0 if self.t0 is None else math.exp(-self.rate * (t - self.t0))

    def needs_rebase(self, t: float) -> bool:
        return self.t0 is not None and self.rate * (t - self.t0) > 200.0


@dataclass
class ReviewHistory:
    """Everything the ranker knows, built from changes in time order."""

    half_life_days: float = 365.0
    recent_half_life_days: float = 30.0
    people: dict[str, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cap = 64
        self._long = _Decayed(self.half_life_days)
        self._short = _Decayed(self.recent_half_life_days)
        self.reviews_total = np.zeros(self._cap)
        self.reviews_decayed = np.zeros(self._cap)
        self.reviews_recent = np.zeros(self._cap)
        self.last_review = np.full(self._cap, -np.inf)
        self.pair = np.zeros((self._cap, self._cap))  # pair[a, r]: r reviewed a's changes (decayed)
        self.path_reviews: dict[str, dict[str, np.ndarray]] = {lvl: {} for lvl in PATH_LEVELS}
        self.path_authored: dict[str, np.ndarray] = {}
        self.n_changes = 0
        self.last_at = -math.inf

    # -- bookkeeping ---------------------------------------------------------------------
    def _id(self, person: str) -> int:
        idx = self.people.get(person)
        if idx is None:
            idx = len(self.names)
            self.people[person] = idx
            self.names.append(person)
            if idx >= self._cap:
                self._grow()
        return idx

    def _grow(self) -> None:
        old, self._cap = self._cap, self._cap * 2

        def grow(a: np.ndarray, fill: float = 0.0) -> np.ndarray:
            out = np.full(self._cap, fill)
            out[:old] = a
            return out

        self.reviews_total = grow(self.reviews_total)
        self.reviews_decayed = grow(self.reviews_decayed)
        self.reviews_recent = grow(self.reviews_recent)
        self.last_review = grow(self.last_review, -np.inf)
        pair = np.zeros((self._cap, self._cap))
        pair[:old, :old] = self.pair
        self.pair = pair
        for table in (*self.path_reviews.values(), self.path_authored):
            for key, arr in table.items():
                table[key] = grow(arr)

    def _rebase(self, t: float) -> None:
        scale = self._long.read_scale(t)
        self.reviews_decayed *= scale
        self.pair *= scale
        for table in (*self.path_reviews.values(), self.path_authored):
            for arr in table.values():
                arr *= scale
        self._long.t0 = t
        self.reviews_recent *= self._short.read_scale(t)
        self._short.t0 = t

    def _vec(self, table: dict[str, np.ndarray], key: str) -> np.ndarray:
        arr = table.get(key)
        if arr is None:
            arr = table[key] = np.zeros(self._cap)
        return arr

    # -- learning from history -----------------------------------------------------------
    def add(self, change: Change) -> None:
        """Fold one change (that has happened) into the counters."""
        if change.at < self.last_at:
            raise ValueError(f"changes must be added in time order (got {change.key or change.at} after {self.last_at})")
        self.last_at = change.at
        if self._long.needs_rebase(change.at) or self._short.needs_rebase(change.at):
            self._rebase(change.at)
        w = self._long.weight(change.at)
        ws = self._short.weight(change.at)
        author = self._id(change.author)
        reviewers = [self._id(r) for r in dict.fromkeys(change.reviewers) if r != change.author]
        prefixes = path_prefixes(change.files)
        for r in reviewers:
            self.reviews_total[r] += 1
            self.reviews_decayed[r] += w
            self.reviews_recent[r] += ws
            self.last_review[r] = change.at
            self.pair[author, r] += w
        for lvl, keys in prefixes.items():
            for key in keys:
                vec = self._vec(self.path_reviews[lvl], key)
                for r in reviewers:
                    vec[r] += w
        for key in prefixes["dir"]:
            self._vec(self.path_authored, key)[author] += w
        self.n_changes += 1

    # -- features ------------------------------------------------------------------------
    def candidates(self, author: str) -> np.ndarray:
        ids = np.flatnonzero(self.reviews_total[: len(self.names)] > 0)
        a = self.people.get(author)
        return ids[ids != a] if a is not None else ids

    def candidate_features(self, files: Sequence[str], author: str, at: float) -> tuple[np.ndarray, np.ndarray]:
        """(candidate ids, feature matrix [n_candidates, len(FEATURE_NAMES)]) for a change at ``at``."""
        cand = self.candidates(author)
        n = len(self.names)
        scale = self._long.read_scale(at)
        sscale = self._short.read_scale(at)
        decayed = self.reviews_decayed[:n] * scale
        recent = self.reviews_recent[:n] * sscale
        a = self.people.get(author)
        pair_row = self.pair[a, :n] * scale if a is not None else np.zeros(n)
        recip = self.pair[:n, a] * scale if a is not None else np.zeros(n)
        days = np.maximum(at - self.last_review[:n], 0.0) / DAY
        prefixes = path_prefixes(files)
        cols = [
            np.log1p(self.reviews_total[:n]),
            decayed / max(decayed.sum(), 1e-12),
            recent / max(recent.sum(), 1e-12),
            np.log1p(np.where(np.isfinite(days), days, 1e5)),
            pair_row / max(pair_row.sum(), 1e-12),
            np.log1p(pair_row),
            np.log1p(recip),
        ]
        counts = []
        for lvl in PATH_LEVELS:
            total = np.zeros(n)
            for key in prefixes[lvl]:
                vec = self.path_reviews[lvl].get(key)
                if vec is not None:
                    total += vec[:n]
            total *= scale
            cols.append(total / max(total.sum(), 1e-12))
            counts.append(np.log1p(total))
        cols.extend(counts)
        authored = np.zeros(n)
        for key in prefixes["dir"]:
            vec = self.path_authored.get(key)
            if vec is not None:
                authored += vec[:n]
        cols.append(np.log1p(authored * scale))
        cols.append(np.full(n, float(pair_row.sum() > 0)))
        matrix = np.column_stack(cols)
        return cand, matrix[cand]


_controller: Any = None


def single_threaded() -> Any:
    """Context manager limiting OpenMP to one thread.

    Gradient boosting on a small batch is dominated by OpenMP start-up and, on
    a busy machine, by thread contention (30 ms instead of 1 ms per call);
    one thread is faster for every call this module makes.
    """
    global _controller
    if _controller is None:
        import sklearn.ensemble  # noqa: F401  (load the OpenMP runtime so the controller sees it)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="openmp")


@dataclass
class Recommendation:
    reviewer: str
    score: float
    reasons: list[str]
    open_requests: int = 0


def _reasons(history: ReviewHistory, files: Sequence[str], author: str, reviewer: str, at: float, open_requests: int) -> list[str]:
    """Plain-language reasons from the raw (undecayed where possible) history."""
    r = history.people[reviewer]
    out: list[str] = []
    prefixes = path_prefixes(files)
    scale = history._long.read_scale(at)
    best_dir, best = None, 0.0
    for key in prefixes["dir"] | prefixes["parent"]:
        vec = history.path_reviews["dir"].get(key) if key in prefixes["dir"] else history.path_reviews["parent"].get(key)
        if vec is not None and vec[r] * scale > best:
            best_dir, best = key, vec[r] * scale
    if best_dir is not None and best >= 0.5:
        out.append(f"path expertise: reviews under {best_dir or '/'} (weighted {best:.1f})")
    a = history.people.get(author)
    if a is not None and history.pair[a, r] * scale >= 0.5:
        out.append(f"has reviewed {author}'s changes before (weighted {history.pair[a, r] * scale:.1f})")
    if np.isfinite(history.last_review[r]):
        days = max(at - history.last_review[r], 0.0) / DAY
        out.append(f"recency: last review {days:.0f} days ago; {int(history.reviews_total[r])} reviews in total")
    out.append(f"load: {open_requests} open review request(s)")
    return out


class ReviewerRecommender:
    """Learned reviewer ranking: gradient boosting over :data:`FEATURE_NAMES`.

    ``fit`` walks the history in time order, computing each change's candidate
    features *before* adding the change, so no training row sees its own
    answer or the future.  Negatives are subsampled (``negatives_per_change``)
    to keep training to seconds.
    """

    def __init__(self, half_life_days: float = 365.0, negatives_per_change: int = 30,
                 load_penalty: float = 0.15, seed: int = 0, min_history: int = 20, min_train_changes: int = 150):
        self.history = ReviewHistory(half_life_days=half_life_days)
        self.negatives_per_change = negatives_per_change
        self.load_penalty = load_penalty
        self.seed = seed
        self.min_history = min_history
        self.min_train_changes = min_train_changes
        self.model: Any = None

    def fit(self, changes: Sequence[Change]) -> ReviewerRecommender:
        from sklearn.ensemble import HistGradientBoostingClassifier

        rng = np.random.default_rng(self.seed)
        xs, ys = [], []
        for change in changes:
            if self.history.n_changes >= self.min_history and change.reviewers:
                cand, feats = self.history.candidate_features(change.files, change.author, change.at)
                if len(cand):
                    truth = {self.history.people.get(r, -1) for r in change.reviewers}
                    label = np.fromiter((c in truth for c in cand), bool, len(cand))
                    keep = np.flatnonzero(label)
                    neg = np.flatnonzero(~label)
                    if len(neg) > self.negatives_per_change:
                        neg = rng.choice(neg, self.negatives_per_change, replace=False)
                    rows = np.concatenate([keep, neg])
                    xs.append(feats[rows])
                    ys.append(label[rows])
            self.history.add(change)
        if len(xs) < self.min_train_changes or not np.concatenate(ys).any():
            self.model = None  # too little history to learn weights from: the heuristic in scores() ranks
            return self
        X, y = np.vstack(xs), np.concatenate(ys)
        self.model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, max_leaf_nodes=31,
                                                    l2_regularization=1.0, random_state=self.seed)
        with single_threaded():
            self.model.fit(X, y)
        return self

    def update(self, change: Change) -> None:
        """Add a change that just happened (the model keeps its weights; counters move on)."""
        self.history.add(change)

    def scores(self, files: Sequence[str], author: str, at: float) -> tuple[np.ndarray, np.ndarray]:
        cand, feats = self.history.candidate_features(files, author, at)
        if not len(cand):
            return cand, np.zeros(0)
        if self.model is None:  # too little history to learn from: path share, then author pairing, then popularity
            f = {name: feats[:, i] for i, name in enumerate(FEATURE_NAMES)}
            score = (f["path_share_file"] + f["path_share_dir"] + 0.5 * f["path_share_parent"]
                     + 0.3 * f["author_pair_share"] + 0.1 * f["reviews_share_decayed"])
        else:
            with single_threaded():
                score = self.model.predict_proba(feats)[:, 1]
        return cand, score

    def rank(self, files: Sequence[str], author: str, at: float) -> list[str]:
        cand, score = self.scores(files, author, at)
        order = np.argsort(-score, kind="stable")
        return [self.history.names[cand[i]] for i in order]

    def recommend(self, files: Sequence[str], author: str, at: float | None = None, *,
                  open_requests: dict[str, int] | None = None, limit: int = 5,
                  exclude: Iterable[str] = ()) -> list[Recommendation]:
        """Top ``limit`` reviewers with reasons; open review requests lower a score (load)."""
        at = datetime.now(UTC).timestamp() if at is None else at
        open_requests = open_requests or {}
        skip = set(exclude) | {author}
        cand, score = self.scores(files, author, at)
        ranked = []
        for c, s in zip(cand, score):
            name = self.history.names[c]
            if name in skip:
                continue
            load = int(open_requests.get(name, 0))
            ranked.append((float(s) / (1.0 + self.load_penalty * load), name, load))
        ranked.sort(key=lambda t: -t[0])
        return [Recommendation(name, round(s, 6), _reasons(self.history, files, author, name, at, load), load)
                for s, name, load in ranked[:limit]]
