"""Reviewer recommendations for a project: the one place that loads its change history and fits the ranker.

Both the ``request_review`` action (``use_recommendations``) and the
``/recommendations/reviewers`` API ask :func:`recommend_reviewers`, so they
rank with the same model fitted on the same history, and they cannot drift
apart (they did, on how a naive timestamp is read).

History is the project's recorded changes (``code_changes``) that are no
longer open, in time order; open changes are each reviewer's current load.
Fitting walks the whole history, so a fitted :class:`ml.reviewers.ReviewerRecommender`
is kept per project and refitted only when the history's stamp (how many
closed changes, the newest row id) or the load-penalty setting changes.  The
cache is keyed by database too: a process that talks to several databases
(tests do) must never serve one project's model for another's.

The model itself (:mod:`ml.reviewers`) reads no database; this module is the
bridge, which is why it lives in the learning layer beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from include.db.models import CodeChange
from include.settings import get_settings
from ml.reviewers import Change, Recommendation, ReviewerRecommender


@dataclass(frozen=True)
class ReviewerAnswer:
    reviewers: list[Recommendation]
    #: False while the history is too short to learn weights from: the path-share heuristic ranked
    learned: bool
    #: closed changes the ranking was learned from (0: the project has no history yet)
    history_changes: int


@dataclass(frozen=True)
class _Fitted:
    stamp: tuple[Any, ...]
    recommender: ReviewerRecommender


_fitted: dict[tuple[str, int], _Fitted] = {}
_locks: dict[tuple[str, int], threading.Lock] = {}
_guard = threading.Lock()


def _closed(project_id: int) -> Any:
    return (CodeChange.project_id == project_id) & (CodeChange.status != "open")


def recommender_for(session: Session, project_id: int) -> ReviewerRecommender:
    """The project's ranker, fitted on its closed changes; refitted when that history has grown."""
    load_penalty = get_settings().reviewer_load_penalty
    count, newest = session.execute(
        select(func.count(CodeChange.id), func.coalesce(func.max(CodeChange.id), 0)).where(_closed(project_id))).one()
    stamp = (count, newest, load_penalty)
    key = (session.get_bind().url.render_as_string(hide_password=True), project_id)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one fit per project at a time; other projects are not held up
        cached = _fitted.get(key)
        if cached is not None and cached.stamp == stamp:
            return cached.recommender
        rows = session.execute(
            select(CodeChange.created_at, CodeChange.author, CodeChange.files, CodeChange.reviewers,
                   CodeChange.change_key)
            .where(_closed(project_id))
            .order_by(CodeChange.created_at, CodeChange.id)).all()  # fmt: skip
        history = [Change.of(r.created_at, r.author, r.files, r.reviewers, r.change_key) for r in rows]
        recommender = ReviewerRecommender(load_penalty=load_penalty).fit(history)
        _fitted[key] = _Fitted(stamp, recommender)
        return recommender


def forget_fitted() -> None:
    """Drop every fitted ranker.

    For a process whose database is emptied and refilled (tests): a project's
    stamp can then repeat with other rows behind it.
    """
    with _guard:
        _fitted.clear()


def open_requests(session: Session, project_id: int) -> dict[str, int]:
    """Each reviewer's number of open changes waiting on them (their load)."""
    load: dict[str, int] = {}
    for (reviewers,) in session.execute(select(CodeChange.reviewers).where(
            CodeChange.project_id == project_id, CodeChange.status == "open")):
        for name in reviewers or []:
            load[name] = load.get(name, 0) + 1
    return load


def recommend_reviewers(session: Session, project_id: int, files: Sequence[str], author: str, *,
                        limit: int = 5, exclude: Iterable[str] = ()) -> ReviewerAnswer:
    """The top ``limit`` reviewers for a change by ``author`` touching ``files``, with reasons."""
    recommender = recommender_for(session, project_id)
    ranked = recommender.recommend(files, author, open_requests=open_requests(session, project_id),
                                   limit=limit, exclude=exclude)
    return ReviewerAnswer(ranked, recommender.model is not None, recommender.history.n_changes)
