"""Weak signals (a resolved thread, a changed line) are kept apart: learning metrics and issue types count verdicts only."""

from __future__ import annotations

from sqlalchemy.orm import Session

from include.db.models import MLFeedback, Project, ReviewIssue, ReviewSession
from include.enums import FeedbackType, Severity


def test_learning_metrics_and_issue_types_count_only_explicit_feedback(db):
    from ml.issue_recommendations import issue_type_catalogue
    from ml.learning_metrics import learning_metrics

    with Session(db) as session:
        project = Project(slug="acme", name="Acme")
        session.add(project)
        session.flush()
        review = ReviewSession(project_id=project.id, repository="acme/app", pr_number=7)
        session.add(review)
        session.flush()
        issue = ReviewIssue(session_id=review.id, file_path="app.py", line=3, rule="B301", analyzer="bandit",
                            severity=Severity.high, message="pickle.loads")
        session.add(issue)
        session.flush()
        session.add_all([
            MLFeedback(issue_id=issue.id, feedback_type=FeedbackType.helpful, username="rita"),
            MLFeedback(issue_id=issue.id, feedback_type=FeedbackType.not_helpful, username="github:rita",
                       source="thread_resolved", strength="weak"),
        ])
        session.commit()

        metrics = learning_metrics(session, project.id)
        assert metrics["feedback"] == 1 and metrics["feedback_counts"] == {"helpful": 1}
        [bandit] = [t for t in issue_type_catalogue(session, project.id) if t.rule == "B301"]
        assert (bandit.helpful, bandit.not_helpful) == (1, 0)
