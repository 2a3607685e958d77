"""Code-host events: the one shape a workflow run's ``conf["event"]`` carries.

Webhook payloads differ per code host and per event; workflows should not care.
:func:`from_github` normalises GitHub's ``pull_request``, ``push`` and
``issues`` deliveries into :class:`CodeHostEvent`, which actions read
(``clone_url``/``sha`` to check out, ``repository``/``pr_number`` to comment).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ZERO_SHA = "0" * 40


class EventKind(str, Enum):
    """What happened: the one list of event kinds, which is also the list of trigger events a
    workflow can start on (``include.workflows.nodes.TriggerEvent`` is built from it, in this order)."""

    pr_opened = "pr_opened"
    pr_updated = "pr_updated"
    push = "push"
    issue_created = "issue_created"
    schedule = "schedule"
    webhook = "webhook"
    manual = "manual"


class UnsupportedEvent(ValueError):
    """A webhook delivery that starts no workflow (e.g. ``pull_request`` ``closed``).

    Webhook endpoints answer these with 202/204 rather than an error: GitHub
    sends every action of a subscribed event.
    """


class CodeHostEvent(BaseModel):
    """A normalised code-host event (JSON-serialisable; goes into DAG-run ``conf``)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    kind: EventKind
    repository: str | None = Field(default=None, description='"owner/name"')
    clone_url: str | None = None
    ref: str | None = Field(default=None, description="Branch or full ref the event is about (PR head branch).")
    sha: str | None = Field(default=None, description="Commit to analyse (PR head sha, pushed head).")
    base_ref: str | None = None
    pr_number: int | None = Field(default=None, ge=1)
    issue_number: int | None = Field(default=None, ge=1)
    files: list[str] | None = Field(default=None, description="Changed files, when the code host says.")
    labels: list[str] = Field(default_factory=list)
    author: str | None = None
    delivery_id: str | None = None
    title: str | None = None

    @field_validator("repository")
    @classmethod
    def _owner_name(cls, value: str | None) -> str | None:
        if value is not None:
            owner, _, name = value.partition("/")
            if not owner or not name or "/" in name:
                raise ValueError(f'must be "owner/name", got {value!r}')
        return value

    def to_conf(self) -> dict[str, Any]:
        """The DAG-run ``conf`` that starts a workflow run for this event."""
        return {"event": self.model_dump(mode="json", exclude_none=True)}


def _branch(ref: str | None) -> str | None:
    return ref.removeprefix("refs/heads/") if ref else ref


def from_github(event_name: str, payload: dict[str, Any], delivery_id: str | None = None) -> CodeHostEvent:
    """Normalise one GitHub webhook delivery (``X-GitHub-Event`` name + JSON body).

    Supported: ``pull_request`` (opened, reopened → ``pr_opened``; synchronize,
    edited, ready_for_review → ``pr_updated``), ``push`` (branch pushes; branch
    deletions are unsupported) and ``issues`` (opened → ``issue_created``).
    Raises :class:`UnsupportedEvent` for anything else and ``ValueError`` naming
    the missing field for malformed payloads.
    """
    if not isinstance(payload, dict):
        raise ValueError("payload: expected a JSON object")  # noqa: TRY004 - callers catch ValueError
    repo = payload.get("repository") or {}
    if not repo.get("full_name"):
        raise ValueError("payload.repository.full_name is required")
    common: dict[str, Any] = {
        "repository": repo["full_name"],
        "clone_url": repo.get("clone_url"),
        "delivery_id": delivery_id,
        "author": (payload.get("sender") or {}).get("login"),
    }
    action = payload.get("action")

    if event_name == "pull_request":
        pr = payload.get("pull_request")
        if not isinstance(pr, dict):
            raise ValueError("payload.pull_request is required for pull_request events")
        if action in ("opened", "reopened"):
            kind = EventKind.pr_opened
        elif action in ("synchronize", "edited", "ready_for_review"):
            kind = EventKind.pr_updated
        else:
            raise UnsupportedEvent(f"pull_request action {action!r} starts no workflow")
        head, base = pr.get("head") or {}, pr.get("base") or {}
        head_repo = head.get("repo") or {}
        return CodeHostEvent(
            kind=kind,
            **{
                **common,
                "clone_url": head_repo.get("clone_url") or common["clone_url"],
                "author": (pr.get("user") or {}).get("login") or common["author"],
            },
            ref=head.get("ref"),
            sha=head.get("sha"),
            base_ref=base.get("ref"),
            pr_number=pr.get("number") or payload.get("number"),
            labels=[label["name"] for label in pr.get("labels") or [] if label.get("name")],
            title=pr.get("title"),
        )

    if event_name == "push":
        after = payload.get("after")
        if payload.get("deleted") or after == ZERO_SHA:
            raise UnsupportedEvent("push deleting a ref starts no workflow")
        files: set[str] = set()
        for commit in payload.get("commits") or []:
            files.update(commit.get("added") or [])
            files.update(commit.get("modified") or [])
        return CodeHostEvent(
            kind=EventKind.push,
            **{**common, "author": (payload.get("pusher") or {}).get("name") or common["author"]},
            ref=_branch(payload.get("ref")),
            sha=after,
            base_ref=repo.get("default_branch"),
            files=sorted(files) if payload.get("commits") else None,
        )

    if event_name == "issues":
        if action != "opened":
            raise UnsupportedEvent(f"issues action {action!r} starts no workflow")
        issue = payload.get("issue")
        if not isinstance(issue, dict):
            raise ValueError("payload.issue is required for issues events")
        return CodeHostEvent(
            kind=EventKind.issue_created,
            **{**common, "author": (issue.get("user") or {}).get("login") or common["author"]},
            ref=repo.get("default_branch"),
            issue_number=issue.get("number"),
            labels=[label["name"] for label in issue.get("labels") or [] if label.get("name")],
            title=issue.get("title"),
        )

    raise UnsupportedEvent(f"GitHub event {event_name!r} starts no workflow")
