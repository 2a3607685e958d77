"""A write is committed before its answer is sent: a client that got 201 can read what it created at once.

FastAPI ends a ``yield`` dependency *after* the response by default; the app session must end (commit)
before it.  tests/api/test_honest_runs.py met the race live: a project created with 201 was "not found" by
the next request.  Here every route that takes the app session is checked to take it with that scope.
"""

from __future__ import annotations

from fastapi.routing import APIRoute

from include.api.app import create_app
from include.api.deps import db_session


def _session_dependencies(dependant):
    for sub in dependant.dependencies:
        if sub.call is db_session:
            yield sub
        yield from _session_dependencies(sub)


def test_every_route_commits_the_app_session_before_answering():
    routes = [r for r in create_app().routes if isinstance(r, APIRoute)]
    using = [(r.path, sub) for r in routes for sub in _session_dependencies(r.dependant)]
    assert using, "no route takes the app session: the check looks at the wrong dependency"
    late = sorted({path for path, sub in using if getattr(sub, "scope", None) != "function"})
    assert late == [], f"routes whose session would commit after the answer is sent: {late}"
