"""The reviewer benchmark's baselines and windows: the literature's path similarity (FPS) beside RevFinder,
and a test window that ends where the next cut's begins (each change counted once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.reviewer_baselines import PathSimilarity, RevFinder, evaluate_cut
from ml.reviewers import Change

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_path_similarity_is_the_fps_score():
    """FPS(n, p) = sum of common-prefix / longer-length over file pairs, / (|n| * |p|); reviewers sum it."""
    fps = PathSimilarity()
    fps.add(Change.of(T0, "a", ["src/net/http/server.go", "src/net/url.go"], ["rita"], "p1"))
    fps.add(Change.of(T0 + timedelta(hours=1), "a", ["doc/readme.md"], ["sam"], "p2"))
    fps.add(Change.of(T0 + timedelta(hours=2), "b", ["src/net/http/client.go"], ["sam", "rita"], "p3"))
    files = ["src/net/http/server.go"]
    # p1: server.go vs itself 4/4, vs src/net/url.go 2/4 -> (1 + 0.5) / (1 * 2); p2: 0; p3: 3/4 / 1
    expected = {"rita": 0.75 + 0.75, "sam": 0.75}
    scores = fps._scores(files, "nobody", suffix=False)
    assert {name: pytest.approx(scores[fps.people[name]]) for name in expected} == expected
    assert fps.rank(files, "nobody") == ["rita", "sam"]
    assert fps.rank(files, "rita") == ["sam"]  # the author is never recommended


def test_test_windows_can_end_at_the_next_cut():
    changes = [Change.of(T0 + timedelta(hours=i), f"dev{i % 3}", [f"pkg/{'net' if i % 2 else 'db'}/f.go"],
                         ["rita" if i % 2 else "sam"], f"c{i}") for i in range(120)]
    windows = [evaluate_cut(changes, cut, end, min_history=10) for cut, end in ((60, 90), (90, 120))]
    assert [w["learned"]["n"] for w in windows] == [30, 30]  # disjoint: 60 changes tested once each
    assert set(windows[0]) == {"learned", "popularity", "path-sim", "revfinder"}
    assert evaluate_cut(changes, 60, min_history=10)["path-sim"]["n"] == 60  # no end: up to the last change
    assert issubclass(RevFinder, PathSimilarity)
