"""Issue recommendations: which issue types are worth surfacing for a repository and files.

The proof of concept computed repository and file context and then ignored
it.  Here the context is the input: every issue type (analyser + rule) the
project has seen is scored on each of the given files in the given
repository by the calibrated helpfulness model (:mod:`ml.calibration`), and
types are ranked by their mean predicted P(helpful) over the files.  Types
whose score is below ``settings.confidence_threshold`` are returned with
``surface: false`` so a caller can switch them off for those paths.

Without a registered helpfulness model the ranking falls back to each type's
observed helpful rate with a Beta(1, 1) prior (and says so in ``method``), so
a new project still gets a sensible answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class IssueType:
    analyzer: str
    rule: str
    severity: str  # the type's most common severity
    message: str  # a representative message
    helpful: int = 0
    not_helpful: int = 0

    @property
    def feedback(self) -> int:
        return self.helpful + self.not_helpful


def issue_type_catalogue(session: Any, project_id: int, limit: int = 500) -> list[IssueType]:
    """Issue types raised in the project's reviews, with their feedback counts."""
    from sqlalchemy import func, select

    from include.db.models import MLFeedback, ReviewIssue, ReviewSession
    from ml.calibration import label_of

    rows = session.execute(
        select(ReviewIssue.analyzer, ReviewIssue.rule, ReviewIssue.severity, func.count(ReviewIssue.id),
               func.min(ReviewIssue.message))
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .where(ReviewSession.project_id == project_id)
        .group_by(ReviewIssue.analyzer, ReviewIssue.rule, ReviewIssue.severity)
    ).all()
    types: dict[tuple[str, str], IssueType] = {}
    sev_counts: dict[tuple[str, str], Counter] = {}
    for analyzer, rule, severity, count, message in rows:
        key = (analyzer, rule)
        sev_counts.setdefault(key, Counter())[getattr(severity, "value", severity)] += count
        types.setdefault(key, IssueType(analyzer, rule, "", message))
    for key, counts in sev_counts.items():
        types[key].severity = counts.most_common(1)[0][0]
    feedback = session.execute(
        select(ReviewIssue.analyzer, ReviewIssue.rule, MLFeedback.feedback_type, func.count(MLFeedback.id))
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .join(MLFeedback, (MLFeedback.issue_id == ReviewIssue.id) & (MLFeedback.strength == "explicit"))
        .where(ReviewSession.project_id == project_id)
        .group_by(ReviewIssue.analyzer, ReviewIssue.rule, MLFeedback.feedback_type)
    ).all()
    for analyzer, rule, ftype, count in feedback:
        t = types.get((analyzer, rule))
        label = label_of(ftype)
        if t is None or label is None:
            continue
        if label:
            t.helpful += count
        else:
            t.not_helpful += count
    ranked = sorted(types.values(), key=lambda t: (-t.feedback, t.analyzer, t.rule))
    return ranked[:limit]


def recommend_issue_types(catalogue: Sequence[IssueType], repository: str, files: Sequence[str], *,
                          model: Any = None, model_version: str | None = None, threshold: float = 0.3,
                          limit: int = 20) -> dict[str, Any]:
    """Rank ``catalogue`` for ``files`` of ``repository``; see the module docstring."""
    if not catalogue or not files:
        return {"method": "none", "model_version": None, "threshold": threshold, "issue_types": []}
    files = list(dict.fromkeys(files))[:200]
    if model is not None:
        from ml.calibration import helpfulness_frame

        records = [{"analyzer": t.analyzer, "rule": t.rule, "severity": t.severity, "message": t.message,
                    "file_path": f, "repository": repository} for t in catalogue for f in files]
        proba = model.predict_proba(helpfulness_frame(records))
        classes = [str(c) for c in getattr(model, "classes_", [0, 1])]
        col = classes.index("1") if "1" in classes else proba.shape[1] - 1
        scores = proba[:, col].reshape(len(catalogue), len(files))
        method = "calibrated_model"
    else:
        rate = np.array([(t.helpful + 1) / (t.feedback + 2) for t in catalogue])
        scores = np.repeat(rate[:, None], len(files), axis=1)
        method = "feedback_rate"
    mean = scores.mean(axis=1)
    order = np.argsort(-mean, kind="stable")[:limit]
    out = []
    for i in order:
        t = catalogue[i]
        best = np.argsort(-scores[i], kind="stable")[:3]
        out.append({
            "analyzer": t.analyzer, "rule": t.rule, "severity": t.severity,
            "score": round(float(mean[i]), 6), "surface": bool(mean[i] >= threshold),
            "feedback": {"helpful": t.helpful, "not_helpful": t.not_helpful},
            "best_files": [{"file_path": files[j], "score": round(float(scores[i, j]), 6)} for j in best],
        })
    return {"method": method, "model_version": model_version if model is not None else None,
            "threshold": threshold, "issue_types": out}
