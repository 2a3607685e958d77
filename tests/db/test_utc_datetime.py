"""Every time the app database hands back is an aware UTC datetime, on SQLite as on PostgreSQL.

Rows of every model are written with non-UTC aware times (and naive ones,
which mean UTC) and read back through the ORM and through Core, on a real
SQLite file and on the session's real PostgreSQL database.  The PostgreSQL
connections run in a non-UTC session time zone, so a read that merely passes
on the server's offset is caught as well as SQLite's naive reads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, create_engine, select, text
from sqlalchemy.orm import Session

from include.db.migrate import upgrade
from include.db.models import (
    Base,
    CodeChange,
    CodeHostIdentity,
    DryRun,
    ExecutionEvent,
    FeedbackPollCursor,
    FeedbackType,
    FindingComment,
    MLDriftReport,
    MLDriftWindow,
    MLFeedback,
    MLPrediction,
    Project,
    ProjectMember,
    ProjectRepository,
    ReviewIssue,
    ReviewSession,
    Role,
    Severity,
    WebhookDelivery,
    Workflow,
    WorkflowTemplate,
    WorkflowVersion,
)
from include.db.types import UTCDateTime

PLUS_0530 = timezone(timedelta(hours=5, minutes=30))
MINUS_0800 = timezone(timedelta(hours=-8))
# One instant written three ways: east of UTC, west of UTC, and naive (which means UTC).
INSTANT = datetime(2026, 12, 1, 18, 15, 1, 631617, tzinfo=UTC)
INPUTS = {
    "plus_0530": INSTANT.astimezone(PLUS_0530),
    "minus_0800": INSTANT.astimezone(MINUS_0800),
    "naive_utc": INSTANT.replace(tzinfo=None),
}
MODELS = [Project, ProjectMember, Workflow, WorkflowVersion, WorkflowTemplate, ExecutionEvent, ReviewSession,
          ReviewIssue, MLFeedback, WebhookDelivery, MLPrediction, CodeChange, ProjectRepository,
          CodeHostIdentity, FindingComment, FeedbackPollCursor, DryRun, MLDriftWindow, MLDriftReport]


def _datetime_columns(model) -> list[str]:
    return [c.key for c in model.__table__.columns if isinstance(c.type, UTCDateTime)]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A migrated, empty app DB; PostgreSQL connections use a non-UTC session time zone."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'utc.db'}"
        upgrade(url)
        eng = create_engine(url)
    else:
        request.getfixturevalue("db")  # the session's PostgreSQL DB, every table emptied
        eng = create_engine(request.getfixturevalue("pg_url"), connect_args={"options": "-c timezone=Asia/Kolkata"})
        with eng.connect() as conn:
            assert conn.execute(text("SHOW TIME ZONE")).scalar() == "Asia/Kolkata"
    yield eng
    eng.dispose()


def _one_of_each(session: Session, when: datetime, tag: str) -> None:
    """One row of every model, every datetime column set to ``when``."""
    project = Project(slug=f"p-{tag}", name="P")
    session.add(project)
    session.flush()
    workflow = Workflow(project_id=project.id, slug="wf", name="WF", created_by="alice")
    review = ReviewSession(project_id=project.id, repository="acme/app")
    session.add_all([workflow, review])
    session.flush()
    issue = ReviewIssue(session_id=review.id, file_path="a.py", rule="r", analyzer="ruff", severity=Severity.low,
                        message="m")
    session.add(issue)
    session.flush()
    rows = [
        project,
        ProjectMember(project_id=project.id, username="alice", role=Role.admin),
        workflow,
        WorkflowVersion(workflow_id=workflow.id, version=1, spec={}, created_by="alice"),
        WorkflowTemplate(slug="t", name="T", spec={}, created_by=f"alice-{tag}"),
        ExecutionEvent(event_key=f"k-{tag}", event_type="task_instance", project="p", dag_id="d", state="running",
                       occurred_at=when, payload={}),
        review,
        issue,
        MLFeedback(issue_id=issue.id, feedback_type=FeedbackType.helpful, username="alice"),
        WebhookDelivery(delivery_id=f"d-{tag}", event="push"),
        MLPrediction(project_id=project.id, repository="acme/app", issue_id=issue.id, model_name="m",
                     model_version="1", arm="champion", predicted_severity=Severity.low, confidence=0.5),
        CodeChange(project_id=project.id, repository="acme/app", change_key="1", author="alice"),
        ProjectRepository(project_id=project.id, full_name="acme/app", full_name_key="acme/app", created_by="alice"),
        CodeHostIdentity(login=f"Octo-{tag}", login_key=f"octo-{tag}", username="alice"),
        FindingComment(repository_key=f"acme/{tag}", comment_id=1, pr_number=1, fingerprint="0" * 16,
                       author_login="autopr[bot]"),
        FeedbackPollCursor(repository_key=f"acme/{tag}"),
        DryRun(project_id=project.id, workflow_id=workflow.id, workflow_version=1, run_id=f"dry_run__{tag}",
               created_by="alice"),
        MLDriftWindow(model_name="m", model_version="1", started_at=when, ended_at=when, predictions=1, counts={}),
        MLDriftReport(model_name="m", model_version="1", status="ok", report={}),
    ]
    assert {type(r) for r in rows} == set(MODELS)
    for row in rows:
        for name in _datetime_columns(type(row)):
            setattr(row, name, when)
    session.add_all(rows)
    session.flush()


def _assert_utc(value: object, where: str) -> None:
    assert isinstance(value, datetime), f"{where}: {value!r}"
    assert value.tzinfo is not None, f"{where}: naive {value!r}"
    assert value.utcoffset() == timedelta(0), f"{where}: not UTC {value!r}"
    assert value == INSTANT, f"{where}: {value!r} is not {INSTANT!r}"


def test_every_datetime_column_is_utc_datetime():
    """A plain DateTime column would read back naive on SQLite: every model column is a UTCDateTime."""
    plain = [f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns
             if isinstance(c.type, DateTime) or (getattr(c.type, "impl", None) is not None
                                                 and not isinstance(c.type, UTCDateTime)
                                                 and isinstance(c.type.impl, DateTime))]
    assert plain == []
    assert all(_datetime_columns(m) for m in MODELS)
    tables_with_times = {t.name for t in Base.metadata.tables.values()
                         if any(isinstance(c.type, UTCDateTime) for c in t.columns)}
    assert tables_with_times == {m.__tablename__ for m in MODELS}


def test_reads_are_aware_utc_through_orm_and_core(engine):
    with Session(engine) as session:
        for tag, when in INPUTS.items():
            _one_of_each(session, when, tag)
        session.commit()

    with Session(engine) as session:  # a fresh session: every value comes from the database
        seen = 0
        for model in MODELS:
            for row in session.scalars(select(model)):
                for name in _datetime_columns(model):
                    value = getattr(row, name)
                    _assert_utc(value, f"ORM {model.__name__}.{name}")
                    seen += 1
        assert seen == len(INPUTS) * sum(len(_datetime_columns(m)) for m in MODELS)

    with engine.connect() as conn:
        for model in MODELS:
            table = model.__table__
            columns = [table.c[name] for name in _datetime_columns(model)]
            for values in conn.execute(select(*columns)):
                for column, value in zip(columns, values):
                    _assert_utc(value, f"Core {table.name}.{column.name}")


def test_order_and_filters_follow_the_instant_not_the_wall_clock(engine):
    """Stored as UTC, times sort and compare by instant even when written with different offsets."""
    early = datetime(2026, 6, 1, 10, 0, tzinfo=PLUS_0530)    # 04:30 UTC, later wall clock
    late = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)             # 06:00 UTC, earlier wall clock
    later = datetime(2026, 5, 31, 23, 30, tzinfo=MINUS_0800)  # 07:30 UTC, earliest wall clock
    with Session(engine) as session:
        for key, when in (("late", late), ("early", early), ("later", later)):
            session.add(ExecutionEvent(event_key=key, event_type="dag_run", project="p", dag_id="d",
                                       state="running", occurred_at=when, payload={}))
        session.commit()
        order = session.scalars(select(ExecutionEvent.event_key).order_by(ExecutionEvent.occurred_at)).all()
        assert order == ["early", "late", "later"]
        # 11:00 at +05:30 is 05:30 UTC: only the 04:30 UTC event is before it.
        cutoff = datetime(2026, 6, 1, 11, 0, tzinfo=PLUS_0530)
        before = session.scalars(select(ExecutionEvent.event_key).where(ExecutionEvent.occurred_at < cutoff)).all()
        assert before == ["early"]
        since = session.scalars(select(ExecutionEvent.event_key).where(ExecutionEvent.occurred_at >= late)
                                .order_by(ExecutionEvent.occurred_at)).all()
        assert since == ["late", "later"]


def test_bind_converts_to_utc_and_takes_naive_as_utc():
    t = UTCDateTime()
    for dialect in (create_engine("sqlite://").dialect, create_engine("postgresql+psycopg2://").dialect):
        bound = t.process_bind_param(INPUTS["plus_0530"], dialect)
        assert bound.utcoffset() == timedelta(0) and bound == INSTANT
        assert t.process_bind_param(INPUTS["naive_utc"], dialect) == INSTANT
        assert t.process_bind_param(None, dialect) is None
        assert t.process_result_value(INSTANT.replace(tzinfo=None), dialect) == INSTANT
        assert t.process_result_value(INSTANT.astimezone(MINUS_0800), dialect).tzinfo is UTC
        for wrong in ("2026-12-01T18:15:01+00:00", date(2026, 12, 1), 1764612901):
            with pytest.raises(TypeError):
                t.process_bind_param(wrong, dialect)


@pytest.mark.parametrize("tag", sorted(INPUTS))
def test_objects_hold_utc_from_assignment(tag):
    """An object answers with UTC before any flush (routes answer from objects they just wrote)."""
    when = INPUTS[tag]
    change = CodeChange(project_id=1, repository="r", change_key="k", author="a", created_at=when)
    change.closed_at = when
    for value in (change.created_at, change.closed_at):
        assert value.utcoffset() == timedelta(0) and value == INSTANT
    change.closed_at = None
    assert change.closed_at is None
    for model in MODELS:
        row = model()
        for name in _datetime_columns(model):
            setattr(row, name, when)
            assert getattr(row, name).tzinfo is UTC, f"{model.__name__}.{name}"
