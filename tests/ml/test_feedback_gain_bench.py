"""bench/bench_feedback_gain.py --quick: the replay runs the real loop and its feedback lands in ml_feedback.

Checks the shape of what the bench reports and that every feedback row it
counts is a row of ``ml_feedback`` written by ``record_feedback`` (API and
dashboard sources, explicit, with a corrected severity) — not the numbers,
which a quick run on a third of the advisories cannot settle.
"""

from __future__ import annotations


def test_quick_replay_feeds_back_through_ml_feedback_and_reports_cold_vs_retrained(db, ml_env, tmp_path, capsys):
    from sqlalchemy import func, select

    from bench.bench_feedback_gain import PROJECT, REVIEW_SOURCE, parse_args, plot, print_report, replay
    from include.db.models import MLFeedback, Project, ReviewIssue, ReviewSession

    options = parse_args(["--quick", "--bootstrap", "50"])
    result = replay(options, db, ml_env)

    with db.connect() as conn:
        feedback = conn.execute(select(MLFeedback.source, MLFeedback.strength, MLFeedback.corrected_severity,
                                       MLFeedback.feedback_type, MLFeedback.issue_id)).all()
        issues = conn.scalar(select(func.count(ReviewIssue.id)).join(ReviewSession)
                             .join(Project, Project.id == ReviewSession.project_id)
                             .where(Project.slug == PROJECT, ReviewSession.source == REVIEW_SOURCE))
    assert len(feedback) == result["feedback_rows_given"] == sum(result["ml_feedback_by_source"].values())
    assert {row.source for row in feedback} == {"api", "dashboard"} == set(result["ml_feedback_by_source"])
    assert all(row.strength == "explicit" and row.corrected_severity is not None for row in feedback)
    assert {str(getattr(row.feedback_type, "value", row.feedback_type)) for row in feedback} == {"helpful",
                                                                                                  "not_helpful"}
    assert len({row.issue_id for row in feedback}) == len(feedback)  # one row per reviewed finding
    # the seed and W1 are recorded (W2 is only scored); W1 got feedback on its share only
    seed, w1 = result["cycles"]
    assert issues == seed["rows"] + w1["rows"]
    assert seed["feedback_rows"] == seed["rows"] and w1["feedback_rows"] == round(0.5 * w1["rows"])
    assert seed["exported"] == "v000001" and w1["exported"] == "v000002"
    assert seed["retrained"] and seed["promoted"] and w1["retrained"]

    for part in ("severity", "helpfulness"):
        (window,) = result[part]["windows"]
        assert window["window"] == 2 and window["rows"] > 0
        for key in ("cold", "retrained", "retrained_relative"):
            assert isinstance(window[key], float)
        summary = result[part]["summary"]
        lo, hi = summary["retrained_relative_ci95"]
        assert lo <= hi
    assert "served" in result["severity"]["windows"][0] and result["helpfulness"]["synthetic"] is True

    print_report(result)
    out = capsys.readouterr().out
    assert "SEVERITY macro-F1" in out and "SYNTHETIC" in out and "mean relative improvement" in out
    assert plot(result, tmp_path / "gain.png").stat().st_size > 0
