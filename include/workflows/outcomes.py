"""Per-workflow outcomes: how often a workflow (and each of its versions) runs, succeeds, how long it takes, and
what its reviews are worth to the reviewers who read them.

One read model serves the platform API (``GET .../workflows/{workflow}/outcomes``, ``GET .../outcomes``) and the
dashboard sidecar's *Workflows* table, so both always show the same numbers.  Everything is read from the app
database; nothing here writes.

Where each number comes from, and why there
-------------------------------------------
* **Runs, their state and duration** come from ``execution_events``: the DAG-run state events the Airflow listener
  and the reconciler persist (``include.events``).  Not from Airflow's REST API: that would mean paging through every
  run of every workflow on each request (and, from the sidecar, with the viewer's own token), bounded by whatever
  Airflow's ``db clean`` kept, while the events are already here, indexed by project and DAG run, and are what the
  live dashboard shows run by run.  The price is freshness: a run is as current as its last relayed event (the relay
  persists within a second; the reconciler fills the states no listener hook reports).  A run the relay never
  stored is not counted.
* **A run's state** is its current DAG-run event by the one ordering rule (:mod:`include.events.ordering`), never
  the highest id: ``success`` is a success, ``failed`` a failure, anything else (queued, running) in progress.  The
  success rate is successes over finished runs.
* **Duration** is Airflow's own ``start_date``/``end_date`` carried by the run's events, else the ``occurred_at`` of
  its first and its terminal event; finished runs only.  Percentiles interpolate linearly between the closest ranks
  (numpy's default method).
* **A run's version** is the one its review session recorded (the action stores the run's ``workflow_version``).
  A run without a review gets the newest version saved before it started: a run the platform starts executes the
  version current when it was triggered (``include.api.airflow_service.start_run`` waits until Airflow parsed it).
  Only a scheduled run in the seconds after a save may still execute the previous version while counted under the
  new one; a review, when the workflow stores one, settles it.
* **Findings** are the issues of the review sessions a run stored, matched by ``dag_id`` and ``run_id`` (a run with
  both a quality check and a code review stores two).  Findings and feedback count finished runs only, like
  durations: a run in progress may not have stored its review yet.  ``findings_per_run`` is findings over finished
  runs, so a workflow whose runs find nothing scores 0, not "no data".
* **Feedback** counts explicit feedback only (``strength == "explicit"``: a person said it through the API, the
  dashboard, a reply command or a reaction).  Weak rows (a thread resolved without a change, a line a push changed)
  are the platform's inferences, not verdicts, and are left out, as the training export and the learning metrics
  leave them out.  Per finding its latest explicit row counts (a reviewer who changes their mind adds a row, the
  export takes the latest the same way).  ``helpful_share`` is findings whose latest explicit feedback is
  ``helpful`` or ``good_catch`` over findings with any explicit feedback; ``false_positive_share`` likewise for
  ``false_positive``; the counts come with them, so a share of one finding is seen for what it is.
* **since** keeps the runs that started at or after it; feedback given at any time on their findings counts.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from include.db.models import ExecutionEvent, MLFeedback, Project, ReviewIssue, ReviewSession, Workflow, WorkflowVersion
from include.events import ordering
from include.reviews.feedback import HELPFUL_TYPES, FeedbackStrength
from include.workflows.model import dag_id_for

_HELPFUL = frozenset(t.value for t in HELPFUL_TYPES)
_FALSE_POSITIVE = "false_positive"


# --- the numbers ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) of ``values``, interpolated linearly between the closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


@dataclass
class Tally:
    """What one slice (a workflow, or one of its versions) adds up to; :meth:`summary` is its published form."""

    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    durations: list[float] = field(default_factory=list)
    reviewed_runs: int = 0
    findings: int = 0
    with_feedback: int = 0
    helpful: int = 0
    false_positive: int = 0

    def add(self, run: RunOutcome) -> None:
        self.runs += 1
        if run.state == "success":
            self.succeeded += 1
        elif run.state == "failed":
            self.failed += 1
        if not run.finished:
            return
        if run.duration is not None:
            self.durations.append(run.duration)
        if run.reviewed:
            self.reviewed_runs += 1
        self.findings += run.findings
        for feedback_type, n in run.verdicts.items():
            self.with_feedback += n
            if feedback_type in _HELPFUL:
                self.helpful += n
            elif feedback_type == _FALSE_POSITIVE:
                self.false_positive += n

    def summary(self) -> dict[str, Any]:
        finished = self.succeeded + self.failed

        def seconds(value: float | None) -> float | None:
            return round(value, 3) if value is not None else None

        return {
            "runs": self.runs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "in_progress": self.runs - finished,
            "success_rate": _ratio(self.succeeded, finished),
            "duration_seconds": {
                "p50": seconds(percentile(self.durations, 0.50)),
                "p95": seconds(percentile(self.durations, 0.95)),
                "max": seconds(max(self.durations)) if self.durations else None,
            },
            "reviewed_runs": self.reviewed_runs,
            "findings": self.findings,
            "findings_per_run": _ratio(self.findings, finished, 3),
            "feedback": {
                "findings_with_feedback": self.with_feedback,
                "helpful": self.helpful,
                "false_positive": self.false_positive,
                "helpful_share": _ratio(self.helpful, self.with_feedback),
                "false_positive_share": _ratio(self.false_positive, self.with_feedback),
            },
        }


# --- runs -------------------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """One DAG run of a workflow as the outcomes see it."""

    dag_id: str
    run_id: str
    state: str
    started_at: datetime
    duration: float | None
    version: int | None = None
    reviewed: bool = False
    findings: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)  # latest explicit feedback type -> findings

    @property
    def finished(self) -> bool:
        return self.state in ("success", "failed")


def _when(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _run_outcome(dag_id: str, run_id: str, events: list[dict[str, Any]]) -> RunOutcome:
    """One run from its DAG-run events (dicts: id, state, try_number, occurred_at, start_date, end_date)."""
    terminal = [e for e in events if e["state"] in ordering.TERMINAL_STATES]
    # The one ordering rule, short-cut where it cannot be in doubt: DAG-run events carry no try, so a run's only
    # terminal event is its current one; a run without one is in progress whichever state leads.
    if len(terminal) == 1:
        current = terminal[0]
    else:
        current = max(terminal or events, key=ordering.precedence)
    others = (e for e in events if e is not current)
    started = _when(current["start_date"]) or next(
        (t for e in others if (t := _when(e["start_date"])) is not None), None
    ) or min(e["occurred_at"] for e in events)
    duration = None
    if current["state"] in ("success", "failed"):
        ended = _when(current["end_date"]) or current["occurred_at"]
        duration = max(0.0, (ended - started).total_seconds())
    return RunOutcome(dag_id=dag_id, run_id=run_id, state=current["state"], started_at=started, duration=duration)


def _runs(session: Session, project: str, dag_ids: list[str], since: datetime | None) -> list[RunOutcome]:
    """Every run of ``dag_ids`` with DAG-run events (started at or after ``since``), all its events considered."""
    if not dag_ids:
        return []
    event = ExecutionEvent
    scope = [event.project == project, event.event_type == "dag_run", event.dag_id.in_(dag_ids)]
    # Only the two payload fields read here, extracted by the database (the whole JSON is not parsed per row).
    stmt = select(event.dag_id, event.run_id, event.id, event.state, event.try_number, event.occurred_at,
                  event.payload["start_date"].as_string(), event.payload["end_date"].as_string()).where(*scope)
    if since is not None:
        # A run with an event at or after ``since``, with all its events (its start may lie before: filtered below).
        recent = select(event.dag_id, event.run_id).where(*scope, event.occurred_at >= since).distinct()
        stmt = stmt.where(tuple_(event.dag_id, event.run_id).in_(recent))
    by_run: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for dag_id, run_id, event_id, state, try_number, occurred_at, start_date, end_date in session.execute(stmt):
        if run_id is not None:
            by_run[(dag_id, run_id)].append({
                "event_type": "dag_run", "id": event_id, "state": state, "try_number": try_number,
                "occurred_at": occurred_at, "start_date": start_date, "end_date": end_date,
            })  # fmt: skip
    runs = [_run_outcome(dag_id, run_id, events) for (dag_id, run_id), events in by_run.items()]
    return [r for r in runs if since is None or r.started_at >= since]


def _attach_reviews(session: Session, project_id: int, dag_ids: list[str], since: datetime | None,
                    runs: dict[tuple[str, str], RunOutcome]) -> None:
    """Findings, recorded versions and latest explicit feedback of the runs' review sessions, onto ``runs``."""
    if not runs:
        return
    rs, issue = ReviewSession, ReviewIssue
    scope = [rs.project_id == project_id, rs.dag_id.in_(dag_ids), rs.run_id.is_not(None)]
    if since is not None:
        scope.append(rs.created_at >= since)  # a review is stored after its run started
    findings = (
        select(rs.dag_id, rs.run_id, rs.workflow_version, func.count(issue.id).label("n"))
        .select_from(rs).outerjoin(issue, issue.session_id == rs.id)
        .where(*scope).group_by(rs.id, rs.dag_id, rs.run_id, rs.workflow_version)
    )  # fmt: skip
    for row in session.execute(findings):
        run = runs.get((row.dag_id, row.run_id))
        if run is None:
            continue
        run.reviewed = True
        run.findings += int(row.n)
        if row.workflow_version is not None:
            run.version = int(row.workflow_version)
    latest = (
        select(MLFeedback.issue_id, func.max(MLFeedback.id).label("feedback_id"))
        .join(issue, issue.id == MLFeedback.issue_id).join(rs, rs.id == issue.session_id)
        .where(*scope, MLFeedback.strength == FeedbackStrength.explicit.value)
        .group_by(MLFeedback.issue_id).subquery()
    )  # fmt: skip
    verdicts = (
        select(rs.dag_id, rs.run_id, MLFeedback.feedback_type, func.count().label("n"))
        .select_from(latest)
        .join(MLFeedback, MLFeedback.id == latest.c.feedback_id)
        .join(issue, issue.id == latest.c.issue_id).join(rs, rs.id == issue.session_id)
        .group_by(rs.dag_id, rs.run_id, MLFeedback.feedback_type)
    )  # fmt: skip
    for row in session.execute(verdicts):
        run = runs.get((row.dag_id, row.run_id))
        if run is not None:
            kind = getattr(row.feedback_type, "value", row.feedback_type)
            run.verdicts[kind] = run.verdicts.get(kind, 0) + int(row.n)


def _infer_versions(runs: Iterable[RunOutcome], saved: list[tuple[datetime, int]]) -> None:
    """A run without a recorded version: the newest version saved before it started (see the module docstring)."""
    times = [at for at, _ in saved]
    for run in runs:
        if run.version is None and saved:
            position = bisect.bisect_right(times, run.started_at)
            run.version = saved[max(position - 1, 0)][1]


# --- per workflow -----------------------------------------------------------------------------------


@dataclass
class WorkflowOutcomes:
    """One workflow's outcomes: in all, and per version that ran (newest first)."""

    workflow: str
    name: str
    current_version: int
    total: dict[str, Any]
    versions: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "name": self.name, "current_version": self.current_version,
                "total": self.total, "versions": self.versions}  # fmt: skip


def project_outcomes(session: Session, project: str, *, since: datetime | None = None,
                     workflows: list[str] | None = None) -> list[WorkflowOutcomes]:
    """The outcomes of every (not deleted) workflow of ``project``, or of the slugs in ``workflows``, by slug.

    A workflow that never ran is listed with zero runs.  An unknown project gives an empty list: who may read
    which project is the caller's check.
    """
    project_id = session.scalar(select(Project.id).where(Project.slug == project))
    if project_id is None:
        return []
    stmt = select(Workflow).where(Workflow.project_id == project_id, Workflow.deleted_at.is_(None))
    if workflows is not None:
        stmt = stmt.where(Workflow.slug.in_(workflows))
    rows = list(session.scalars(stmt.order_by(Workflow.slug)))
    if not rows:
        return []
    dag_of = {row.id: dag_id_for(project, row.slug) for row in rows}
    dag_ids = sorted(dag_of.values())
    runs = {(r.dag_id, r.run_id): r for r in _runs(session, project, dag_ids, since)}
    _attach_reviews(session, project_id, dag_ids, since, runs)
    saved: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for version in session.execute(
        select(WorkflowVersion.workflow_id, WorkflowVersion.version, WorkflowVersion.created_at)
        .where(WorkflowVersion.workflow_id.in_(list(dag_of))).order_by(WorkflowVersion.version)
    ):  # fmt: skip
        saved[version.workflow_id].append((_when(version.created_at), version.version))
    saved_at = {(wid, v): at for wid, items in saved.items() for at, v in items}
    runs_of: dict[str, list[RunOutcome]] = defaultdict(list)
    for run in runs.values():
        runs_of[run.dag_id].append(run)

    out = []
    for row in rows:
        mine = runs_of.get(dag_of[row.id], [])
        _infer_versions(mine, saved.get(row.id, []))
        total, per_version = Tally(), defaultdict(Tally)
        for run in mine:
            total.add(run)
            per_version[run.version].add(run)
        versions = [
            {"version": v, "saved_at": saved_at.get((row.id, v)), **tally.summary()}
            for v, tally in sorted(per_version.items(), key=lambda item: -1 if item[0] is None else item[0],
                                   reverse=True)
        ]  # fmt: skip
        out.append(WorkflowOutcomes(workflow=row.slug, name=row.name, current_version=row.current_version,
                                    total=total.summary(), versions=versions))  # fmt: skip
    return out


def workflow_outcomes(session: Session, project: str, workflow: str, *,
                      since: datetime | None = None) -> WorkflowOutcomes | None:
    """One workflow's outcomes, or None when the project has no such (not deleted) workflow."""
    found = project_outcomes(session, project, since=since, workflows=[workflow])
    return found[0] if found else None
