"""Reviewer recommendations: the learned ranker, its baselines, and the API over recorded change history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bench.reviewer_baselines import RevFinder, evaluate_cut, popularity_rank, topk_mrr
from ml.reviewers import Change, ReviewerRecommender, ReviewHistory
from tests.ml_serving.conftest import auth

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _history(n: int = 120) -> list[Change]:
    """net/ is reviewed by rita, db/ by sam; 'pop' reviews a little everywhere (and is most popular overall)."""
    changes = []
    for i in range(n):
        area = ("net", "rita") if i % 2 else ("db", "sam")
        author = f"dev{i % 5}"
        reviewers = [area[1]] if i % 3 else ["pop"]
        if i % 7 == 0:
            reviewers = ["pop"]
        changes.append(Change.of(T0 + timedelta(hours=i), author, [f"pkg/{area[0]}/f{i % 4}.go"], reviewers, f"c{i}"))
    return changes


def test_topk_and_mrr():
    m = topk_mrr([["a", "b", "c"], ["x", "y"], ["q"]], [["b"], ["z"], ["q", "r"]], ks=(1, 3))
    assert m["top1"] == pytest.approx(1 / 3) and m["top3"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((0.5 + 0 + 1) / 3)


def test_a_naive_time_means_utc_whatever_the_host_zone(monkeypatch):
    """One rule for history times: naive = UTC (as the app DB reads them), never the host's local zone."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = Change.of(datetime(2024, 1, 1, 12), "a", ["x.go"])
        aware = Change.of(datetime(2024, 1, 1, 12, tzinfo=UTC), "a", ["x.go"])
        offset = Change.of(datetime(2024, 1, 1, 14, tzinfo=timezone(timedelta(hours=2))), "a", ["x.go"])
        assert naive.at == aware.at == offset.at == T0.timestamp() + 12 * 3600
        assert Change.of(aware.at, "a", ["x.go"]).at == aware.at
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_history_refuses_time_travel():
    h = ReviewHistory()
    h.add(Change.of(T0 + timedelta(days=1), "a", ["x.go"], ["b"]))
    with pytest.raises(ValueError, match="time order"):
        h.add(Change.of(T0, "a", ["x.go"], ["b"]))


def test_no_lookahead_a_first_time_reviewer_cannot_be_predicted():
    """Each change is ranked before it joins the history: its own reviewers are not known yet."""
    changes = _history(60) + [Change.of(T0 + timedelta(hours=100), "dev1", ["pkg/net/f1.go"], ["newbie"], "new")]
    rec = ReviewerRecommender(min_history=10).fit(changes[:60])
    assert "newbie" not in rec.rank(["pkg/net/f1.go"], "dev1", changes[-1].at)
    res = evaluate_cut(changes, 60, min_history=10)
    assert all(m["n"] == 1 and m["top10"] == 0.0 for m in res.values())


def test_learned_ranker_finds_path_experts_and_beats_baselines():
    changes = _history(300)
    res = evaluate_cut(changes, 200, min_history=10)
    assert res["learned"]["top1"] > res["popularity"]["top1"]
    assert res["learned"]["mrr"] >= res["revfinder"]["mrr"] - 1e-9
    rec = ReviewerRecommender(min_history=10).fit(changes)
    assert rec.rank(["pkg/net/new.go"], "dev1", changes[-1].at + 3600)[0] in ("rita", "pop")
    top = rec.recommend(["pkg/db/x.go"], "dev2", changes[-1].at + 3600, limit=2)
    assert {r.reviewer for r in top} <= {"sam", "pop", "rita"}
    assert any("path expertise" in reason for r in top for reason in r.reasons)


def test_open_review_requests_lower_a_score():
    rec = ReviewerRecommender(min_history=10).fit(_history(200))
    at = T0.timestamp() + 300 * 3600
    free = {r.reviewer: r.score for r in rec.recommend(["pkg/net/a.go"], "dev1", at, limit=3)}
    busy = {r.reviewer: r for r in rec.recommend(["pkg/net/a.go"], "dev1", at, limit=3, open_requests={"rita": 5})}
    assert busy["rita"].score < free["rita"] and busy["rita"].open_requests == 5
    assert "load: 5 open review request(s)" in busy["rita"].reasons


def test_baselines_rank_sensibly():
    changes = _history(60)
    h, rf = ReviewHistory(), RevFinder()
    for c in changes:
        h.add(c)
        rf.add(c)
    assert popularity_rank(h, "dev0")[0] in ("rita", "sam", "pop")
    assert rf.rank(["pkg/net/f1.go"], "dev0")[0] in ("rita", "pop")
    assert "dev0" not in rf.rank(["pkg/net/f1.go"], "dev0")


def test_reviewer_api_learns_from_recorded_changes(client, project, serving):
    editor = auth("erin")
    now = datetime.now(UTC)
    for i, c in enumerate(_history(80)):
        c = Change.of(now - timedelta(hours=100 - i), c.author, c.files, c.reviewers, c.key)
        r = client.put(f"/api/v1/projects/acme/changes/{c.key}", headers=editor, json={
            "repository": "org/web", "author": c.author, "files": list(c.files), "reviewers": list(c.reviewers),
            "status": "merged", "created_at": datetime.fromtimestamp(c.at, UTC).isoformat()})
        assert r.status_code == 201, r.text
    # an open change waiting on rita: her current load
    r = client.put("/api/v1/projects/acme/changes/open-1", headers=editor, json={
        "repository": "org/web", "author": "dev3", "files": ["pkg/net/z.go"], "reviewers": ["rita"], "status": "open"})
    assert r.status_code == 201
    # re-recording a change updates it (200), it does not duplicate it
    r = client.put("/api/v1/projects/acme/changes/open-1", headers=editor, json={
        "repository": "org/web", "author": "dev3", "files": ["pkg/net/z.go"], "reviewers": ["rita"], "status": "open"})
    assert r.status_code == 200

    r = client.post("/api/v1/projects/acme/recommendations/reviewers", headers=auth(),
                    json={"author": "dev1", "files": ["pkg/net/new.go"], "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["history_changes"] == 80
    assert body["method"] == "path_share_fallback"  # 80 changes: too few to learn weights from
    names = [x["reviewer"] for x in body["reviewers"]]
    assert "rita" in names[:2] and "dev1" not in names
    rita = next(x for x in body["reviewers"] if x["reviewer"] == "rita")
    assert rita["open_requests"] == 1
    assert any(reason.startswith("path expertise") for reason in rita["reasons"])

    # the fitted ranker is cached per project and refitted once the history grows
    from include.db.models import Project
    from include.db.session import session_scope
    from ml.reviewer_service import recommender_for

    with session_scope() as session:
        pid = session.query(Project.id).filter_by(slug="acme").scalar()
        assert recommender_for(session, pid) is recommender_for(session, pid)
        before = recommender_for(session, pid)
    r = client.put("/api/v1/projects/acme/changes/late-1", headers=editor, json={
        "repository": "org/web", "author": "dev2", "files": ["pkg/db/q.go"], "reviewers": ["sam"], "status": "merged"})
    assert r.status_code == 201
    r = client.post("/api/v1/projects/acme/recommendations/reviewers", headers=auth(),
                    json={"author": "dev1", "files": ["pkg/net/new.go"], "limit": 3})
    assert r.json()["history_changes"] == 81
    with session_scope() as session:
        assert recommender_for(session, pid) is not before


def test_reviewer_api_validation_and_roles(client, project, serving):
    r = client.post("/api/v1/projects/acme/recommendations/reviewers", headers=auth(), json={"author": "a", "files": []})
    assert r.status_code == 422 and "/files" in [e["pointer"] for e in r.json()["errors"]]
    r = client.put("/api/v1/projects/acme/changes/c1", headers=auth("alice"),
                   json={"repository": "o/r", "author": "a", "files": ["x"]})
    assert r.status_code == 403  # viewers cannot write history
    r = client.put("/api/v1/projects/acme/changes/c1", headers=auth("erin"),
                   json={"repository": "o/r", "author": "a", "files": ["x"], "status": "abandoned"})
    assert r.status_code == 422 and "/status" in [e["pointer"] for e in r.json()["errors"]]
    # no history yet: an empty, honest answer
    r = client.post("/api/v1/projects/acme/recommendations/reviewers", headers=auth(), json={"author": "a", "files": ["x"]})
    assert r.status_code == 200 and r.json()["reviewers"] == []
