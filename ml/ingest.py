"""Load real, human-graded data into the app database through the normal review path.

Why this module exists: the severity model must learn from the same rows the
platform stores in production — review issues with reviewer feedback — so
the shared security advisories (``/work/shared/data/advisories.parquet``) are
imported *as* issues with human-assigned severity, not fed to training
through a side door.  Each advisory becomes:

* one review session (``source="advisory-import"``, ``repository`` = the
  package (:func:`advisory_repository`, the one definition the benchmarks'
  :func:`advisory_records` use too), ``ref`` = the advisory id, which makes
  re-imports idempotent),
  stored with :func:`include.reviews.store.record_review`;
* one issue: ``message`` = title + description, ``analyzer`` = the audit tool
  of the ecosystem (bundler-audit, cargo-audit, npm-audit), ``file_path`` =
  its lock file, ``rule`` = ``vulnerable-dependency/<ecosystem>``,
  ``severity`` = the advisory's CVSS band;
* one feedback row via :func:`include.reviews.feedback.record_feedback`:
  ``helpful`` with ``corrected_severity`` = the CVSS band — the advisory
  database's graders are the human reviewers here.

``created_at`` of the issue and the feedback is set to the advisory's
``published`` date (:func:`advisory_created_at`; ``record_review`` stamps
"now"), so time-ordered splits train on older advisories and test on newer ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from include.db.models import Project, ReviewSession
from include.reviews.feedback import FeedbackIn, record_feedback
from include.reviews.store import record_review

log = logging.getLogger(__name__)

ADVISORIES_PATH = Path("/work/shared/data/advisories.parquet")
ADVISORY_SOURCE = "advisory-import"
IMPORT_USER = "advisory-import"

AUDIT_TOOL = {"rubysec": "bundler-audit", "rustsec": "cargo-audit", "nodejs": "npm-audit"}
LOCK_FILE = {
    "rubygems": "Gemfile.lock",
    "ruby-core": ".ruby-version",
    "crates.io": "Cargo.lock",
    "npm": "package-lock.json",
    "node-core": ".nvmrc",
}
MAX_MESSAGE = 20000


def load_advisories(path: Path | str = ADVISORIES_PATH) -> pd.DataFrame:
    """The advisories sorted oldest first, ``published`` as a UTC timestamp."""
    frame = pd.read_parquet(path)
    frame["published"] = pd.to_datetime(frame["published"], utc=True)
    return frame.sort_values(["published", "id"], kind="stable").reset_index(drop=True)


def advisory_repository(row: Any) -> str:
    """The ``repository`` an advisory's issue is filed under: its package (gem, crate, npm module, engine)."""
    return str(row["package"])


def advisory_created_at(row: Any) -> datetime:
    """When an advisory's issue (and its feedback) was raised: noon UTC of its ``published`` day."""
    return _published(row["published"])


def _published(value: Any) -> datetime:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return datetime.combine(ts.date(), time(12, 0), tzinfo=UTC)


def advisory_issue(row: Any) -> dict[str, Any]:
    """One advisory (a row of :func:`load_advisories`) → an issue dict for ``record_review``."""
    title = str(row["title"] or "").strip()
    description = str(row["description"] or "").strip()
    message = f"{title}\n\n{description}".strip()[:MAX_MESSAGE] or str(row["id"])
    return {
        "file_path": LOCK_FILE.get(row["ecosystem"], "dependencies.lock"),
        "line": None,
        "rule": f"vulnerable-dependency/{row['ecosystem']}",
        "analyzer": AUDIT_TOOL.get(row["source"], str(row["source"])),
        "severity": str(row["severity"]),
        "message": message,
        "confidence": 1.0,
        "context": {
            "advisory_id": str(row["id"]),
            "package": str(row["package"]),
            "ecosystem": str(row["ecosystem"]),
            "published": _published(row["published"]).date().isoformat(),
        },
    }


def advisory_records(advisories: pd.DataFrame | None = None, *, message: str = "full") -> list[dict[str, Any]]:
    """Advisories as labelled model-input records: what the prediction API receives, plus ``label``.

    For benchmarks and tests that train and serve on the shared advisories without
    going through the app database; ``repository`` and ``created_at`` are what
    :func:`ingest_advisories` stores, so a model sees the same input either way.
    ``message="title"`` uses the one-line title as the message, as a linter
    finding would read; ``"full"`` keeps title + description.
    """
    if message not in ("full", "title"):
        raise ValueError(f"message: must be 'full' or 'title', not {message!r}")
    advisories = load_advisories() if advisories is None else advisories
    records = []
    for row in advisories.to_dict("records"):
        record = advisory_issue(row)
        if message == "title":
            record["message"] = str(row["title"] or row["id"]).strip()[:500]
        record["repository"] = advisory_repository(row)
        record["created_at"] = advisory_created_at(row).isoformat()
        record["label"] = record.pop("severity")
        record.pop("context", None)
        record.pop("confidence", None)
        records.append(record)
    return records


@dataclass(frozen=True)
class IngestResult:
    imported: int
    skipped: int


def _existing_refs(session: Session, project_slug: str) -> set[str]:
    stmt = (
        select(ReviewSession.ref)
        .join(Project, Project.id == ReviewSession.project_id)
        .where(Project.slug == project_slug, ReviewSession.source == ADVISORY_SOURCE)
    )
    return {ref for ref in session.scalars(stmt) if ref}


def ingest_advisories(
    session: Session,
    project_slug: str,
    advisories: pd.DataFrame | None = None,
    *,
    severity_override: dict[str, str] | None = None,
) -> IngestResult:
    """Import advisories as reviewed issues into ``project_slug`` (idempotent by advisory id).

    ``severity_override`` maps advisory id → the severity the "reviewer"
    assigns instead of the CVSS band (tests use it to show that corrected
    labels move the model).  The caller owns the transaction.
    """
    frame = load_advisories() if advisories is None else advisories
    existing = _existing_refs(session, project_slug)
    overrides = severity_override or {}
    imported = skipped = 0
    for row in frame.to_dict("records"):
        advisory_id = str(row["id"])
        if advisory_id in existing:
            skipped += 1
            continue
        issue = advisory_issue(row)
        review = record_review(session, project_slug, advisory_repository(row), [issue],
                               ref=advisory_id, source=ADVISORY_SOURCE)
        stamp = advisory_created_at(row)
        review.created_at = stamp
        stored = review.issues[0]
        stored.created_at = stamp
        label = overrides.get(advisory_id, str(row["severity"]))
        record_feedback(session, stored, IMPORT_USER,
                        FeedbackIn(feedback_type="helpful", corrected_severity=label,
                                   comment="CVSS-derived severity from the advisory database"),
                        created_at=stamp)
        imported += 1
    session.flush()
    log.info("advisories: imported %d, skipped %d already present", imported, skipped)
    return IngestResult(imported=imported, skipped=skipped)


def time_splits(frame: pd.DataFrame, time_column: str, fractions: Iterable[float] = (0.6, 0.7, 0.8, 0.9),
                *, test_share: float | None = 0.2) -> Iterator[tuple[float, pd.DataFrame, pd.DataFrame]]:
    """Time-ordered train/test splits at several cut points (train = older, test = newer).

    Each cut point ``q`` trains on the oldest ``q`` share and tests on the next
    ``test_share`` (at most up to the end), so no single split decides anything.
    ``test_share=None`` tests up to the next cut point instead (the last cut: up
    to the end), so the test windows do not overlap and each row is counted once.
    """
    ordered = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    n = len(ordered)
    fractions = sorted(fractions)
    for i, q in enumerate(fractions):
        cut = int(n * q)
        if test_share is None:
            end = int(n * fractions[i + 1]) if i + 1 < len(fractions) else n
        else:
            end = min(n, cut + max(1, int(n * test_share)))
        yield q, ordered.iloc[:cut], ordered.iloc[cut:end]


def main(argv: list[str] | None = None) -> int:
    """``python -m ml.ingest [--project advisories] [--owner admin] [--path FILE]``."""
    import argparse

    from include.db.models import ProjectMember
    from include.db.session import session_scope
    from include.enums import Role
    from include.settings import get_settings

    parser = argparse.ArgumentParser(description="Import the shared advisories as reviewed issues.")
    parser.add_argument("--project", default="advisories", help="project slug (created when missing)")
    parser.add_argument("--owner", default=get_settings().admin_username, help="admin of a newly created project")
    parser.add_argument("--path", type=Path, default=ADVISORIES_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with session_scope() as session:
        if session.scalar(select(Project.id).where(Project.slug == args.project)) is None:
            project = Project(slug=args.project, name="Security advisories",
                              description="Shared security advisories imported as reviewed issues")
            project.members.append(ProjectMember(username=args.owner, role=Role.admin))
            session.add(project)
            session.flush()
        result = ingest_advisories(session, args.project, load_advisories(args.path))
    print(f"advisories → project {args.project!r}: imported {result.imported}, skipped {result.skipped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
