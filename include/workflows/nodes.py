"""Typed configs of every workflow node type.

A node's ``type`` (trigger, action, condition, integration, notification)
picks the config model; inside the config a second discriminator picks the
subtype (``event`` for triggers, ``action`` for actions, ``channel`` for
notifications).  The names here are a contract shared with the runtime
(``include.actions``) and the editor, which builds its forms from the JSON
Schema of these models (``include.workflows.schema``).

Every model forbids unknown fields, so a typo in a YAML file is an error that
names the field instead of a silently ignored setting.  Enums are plain
strings (``Literal``), so exported JSON/YAML stays readable and lossless.
"""

from __future__ import annotations

import difflib
import string
from typing import Annotated, Any, ClassVar, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from include.codehost.events import EventKind

# --- shared pieces -----------------------------------------------------------------------------

#: Placeholders allowed in comment, issue and notification templates, with what they expand to.
#: The runtime fills them when it renders a template; validation rejects any other name.
TEMPLATE_PLACEHOLDERS: dict[str, str] = {
    "repository": "owner/name of the repository",
    "pr_number": "pull request number",
    "issue_number": "issue number (issue events)",
    "title": "pull request or issue title",
    "author": "who opened the pull request / issue or pushed",
    "branch": "branch the event is about",
    "ref": "git ref that was checked out",
    "sha": "commit SHA that was checked",
    "event_type": "the trigger event (pr_opened, push, ...)",
    "project": "project slug",
    "workflow_id": "workflow id",
    "workflow_name": "workflow name",
    "dag_id": "Airflow DAG id",
    "run_id": "Airflow run id",
    "issues_count": "number of issues found",
    "errors_count": "number of analyser errors",
    "critical_count": "number of critical issues",
    "high_count": "number of high-severity issues",
    "quality_score": "quality score 0-100",
    "passed": "whether the quality gate passed (true/false)",
    "summary": "one-paragraph summary of the findings",
    "session_id": "id of the review session the analysis stored",
    "hidden_count": "issues hidden below the confidence threshold (code_review)",
}

Analyzer = Literal["ruff", "bandit", "radon"]
#: The trigger events: the code host's event kinds (a plain-string ``Literal`` so documents stay readable).
TriggerEvent = Literal[tuple(kind.value for kind in EventKind)]  # type: ignore[valid-type]


class StrictModel(BaseModel):
    """Base of every config: unknown fields are errors, values are checked on assignment too.

    ``OUTPUTS`` names what a node of this config hands to downstream nodes (its XCom):
    ``{output name: what it holds}``.  It is declared here, next to the config, once:
    the validator checks ``nodes.<id>.<output>`` in conditions against it, the schema
    endpoint the editor reads publishes it, and a test compares it with what the action
    in :mod:`include.actions` really returns.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    OUTPUTS: ClassVar[dict[str, str]] = {}


def check_template(value: str) -> str:
    """Reject templates with unknown placeholders or broken braces, naming the culprit.

    Templates use ``str.format`` syntax (``{issues_count}``, ``{quality_score:.1f}``);
    literal braces are doubled (``{{``).  Attribute or index access is refused
    so a template can never reach into Python objects.
    """
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"malformed template ({exc}); write literal braces as {{{{ and }}}}") from None
    known = ", ".join(sorted(TEMPLATE_PLACEHOLDERS))
    for _literal, field_name, _spec, _conversion in parsed:
        if field_name is None:
            continue
        if field_name == "":
            raise ValueError(f"empty placeholder {{}}; use one of: {known}")
        if field_name not in TEMPLATE_PLACEHOLDERS:
            close = difflib.get_close_matches(field_name, list(TEMPLATE_PLACEHOLDERS), n=1, cutoff=0.6)
            if close:
                raise ValueError(f"unknown placeholder {{{field_name}}}; did you mean {{{close[0]}}}?")
            raise ValueError(f"unknown placeholder {{{field_name}}}; use one of: {known}")
    return value


def check_template_tree(value: Any, path: str = "") -> Any:
    """:func:`check_template` on every string inside a JSON-like value, naming the string by its path.

    What the runtime renders as a template (labels, an HTTP call's endpoint, headers
    and body: ``include.actions.templating.render_tree``) is checked when it is
    saved, not first when a run reaches it.
    """
    if isinstance(value, str):
        try:
            check_template(value)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}" if path else str(exc)) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_template_tree(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_template_tree(item, f"{path}[{index}]")
    return value


def _unique(values: list[Any], what: str) -> list[Any]:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}")
        seen.add(v)
    return values


GlobList = Annotated[list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=100)]
NameList = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)]


class RetryPolicy(StrictModel):
    """How a step retries and how long one attempt may take (mapped onto Airflow task settings)."""

    retries: int = Field(2, ge=0, le=10, description="Retries after a failed attempt.")
    retry_delay_seconds: int = Field(30, ge=1, le=3600, description="Delay before the first retry.")
    exponential_backoff: bool = Field(True, description="Double the delay after every retry.")
    timeout_seconds: int = Field(900, ge=1, le=86400, description="Time limit of one attempt.")


# --- trigger -----------------------------------------------------------------------------------

#: Which filters make sense for which event (GitHub Actions semantics: branches are the PR's base
#: branch or the pushed branch, paths are the changed files, labels are PR / issue labels).
TRIGGER_FILTERS: dict[str, frozenset[str]] = {
    "pr_opened": frozenset({"branches", "paths", "labels"}),
    "pr_updated": frozenset({"branches", "paths", "labels"}),
    "push": frozenset({"branches", "paths"}),
    "issue_created": frozenset({"labels"}),
    "webhook": frozenset({"branches", "paths", "labels"}),
    "schedule": frozenset(),
    "manual": frozenset(),
}


class TriggerConfig(StrictModel):
    """What starts a run: a code-host event, a cron schedule, a webhook or a person."""

    OUTPUTS: ClassVar[dict[str, str]] = {"event": "the (normalised) event that started the run"}

    event: TriggerEvent = Field(description="The event that starts the workflow.")
    cron: str | None = Field(
        None, description="Cron expression (5 fields, UTC); required for and only for the schedule event."
    )
    branches: GlobList = Field(default_factory=list, description="Only run for these branches (fnmatch globs).")
    paths: GlobList = Field(default_factory=list, description="Only run when a changed file matches (globs).")
    labels: NameList = Field(default_factory=list, description="Only run when one of these labels is present.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"not a valid 5-field cron expression: {value!r}")
        return value

    @model_validator(mode="after")
    def _per_event_rules(self) -> TriggerConfig:
        if self.event == "schedule" and not self.cron:
            raise ValueError("cron: required when event is 'schedule'")
        if self.event != "schedule" and self.cron:
            raise ValueError(f"cron: only allowed when event is 'schedule', not {self.event!r}")
        allowed = TRIGGER_FILTERS[self.event]
        for name in ("branches", "paths", "labels"):
            if getattr(self, name) and name not in allowed:
                ok = ", ".join(sorted(allowed)) or "none"
                raise ValueError(f"{name}: the {self.event!r} event takes no {name} filter (allowed: {ok})")
        return self


# --- actions -----------------------------------------------------------------------------------


class QualityCheckConfig(RetryPolicy):
    """Run analysers on a checkout of the event's repository and score the result."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "session_id": "id of the review session the findings were stored in",
        "issues_count": "number of issues found",
        "errors_count": "number of error-level (high or critical) issues",
        "by_severity": "issues per severity: {critical, high, medium, low, info}",
        "quality_score": "quality score 0-100",
        "passed": "quality_score >= quality_threshold (and, with fail_on_error, no error-level issue)",
        "commit_sha": "the commit that was analysed",
        "files_analysed": "number of files the analysers read",
        "scope": "which files: event (its file list), commits (the change's commits) or all",
        "changed_files": "the change's files (empty when the whole repository was analysed)",
        "summary": "a markdown report of the findings",
    }

    action: Literal["quality_check"]
    mode: Literal["fast", "full"] = Field("fast", description="fast: changed files only; full: whole repository.")
    analyzers: list[Analyzer] = Field(
        default_factory=lambda: ["ruff", "bandit", "radon"], min_length=1, description="Analysers to run."
    )
    fail_on_error: bool = Field(False, description="Fail the step when the quality gate is not met.")
    quality_threshold: float = Field(70.0, ge=0, le=100, description="Minimum quality score (0-100) to pass.")

    @field_validator("analyzers")
    @classmethod
    def _no_duplicate_analyzers(cls, value: list[str]) -> list[str]:
        return _unique(value, "analyzer")


class CodeReviewConfig(RetryPolicy):
    """Produce review issues with severity and confidence (model-scored when a model is served)."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "session_id": "id of the review session the findings were stored in",
        "issues_count": "number of issues found",
        "errors_count": "number of error-level (high or critical) issues",
        "by_severity": "issues per severity: {critical, high, medium, low, info}",
        "quality_score": "quality score 0-100",
        "hidden_count": "issues below min_confidence (stored, not shown)",
        "passed": "no error-level issue among the shown ones",
        "model_version": "version of the model that graded the issues (null: the analysers' severities)",
        "severity_source": "model or analyzers",
        "commit_sha": "the commit that was reviewed",
        "scope": "which files: event (its file list), commits (the change's commits) or all",
        "changed_files": "the change's files (empty when the whole repository was reviewed)",
        "issues": "the worst shown issues (file_path, line, rule, analyzer, severity, message, confidence)",
        "summary": "a markdown report of the findings",
    }

    action: Literal["code_review"]
    analyzers: list[Analyzer] = Field(default_factory=lambda: ["ruff", "bandit", "radon"], min_length=1)
    min_confidence: float = Field(0.5, ge=0, le=1, description="Drop issues below this confidence.")
    use_model: bool = Field(True, description="Score issues with the learning system's model when available.")

    @field_validator("analyzers")
    @classmethod
    def _no_duplicate_analyzers(cls, value: list[str]) -> list[str]:
        return _unique(value, "analyzer")


class CreateIssueConfig(RetryPolicy):
    """Open an issue on the code host."""

    OUTPUTS: ClassVar[dict[str, str]] = {"issue_number": "number of the new issue", "issue_url": "its web URL"}

    action: Literal["create_issue"]
    title_template: str = Field(min_length=1, max_length=256, description="Issue title; placeholders allowed.")
    body_template: str = Field("", max_length=65536, description="Issue body (Markdown); placeholders allowed.")
    labels: NameList = Field(default_factory=list, description="Labels of the new issue; placeholders allowed.")

    @field_validator("title_template", "body_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_template(value)

    @field_validator("labels")
    @classmethod
    def _known_label_placeholders(cls, value: list[str]) -> list[str]:
        return check_template_tree(value)


class PostCommentConfig(RetryPolicy):
    """Comment on the pull request (or issue) of the event."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "comment_id": "id of the new comment",
        "comment_url": "its web URL",
        "pr_number": "pull request (or issue) number commented on",
        "body_length": "length of the rendered comment",
    }

    action: Literal["post_comment"]
    template: str = Field(min_length=1, max_length=65536, description="Comment body (Markdown); placeholders allowed.")

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_template(value)


class LabelPrConfig(RetryPolicy):
    """Add (and optionally remove) labels on the pull request."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "pr_number": "pull request number",
        "added": "labels added",
        "removed": "labels removed (those that were there)",
    }

    action: Literal["label_pr"]
    labels: NameList = Field(min_length=1, description="Labels to add; placeholders allowed.")
    remove: NameList = Field(default_factory=list, description="Labels to remove; placeholders allowed.")

    @field_validator("labels", "remove")
    @classmethod
    def _known_placeholders(cls, value: list[str]) -> list[str]:
        return check_template_tree(value)


class RequestReviewConfig(RetryPolicy):
    """Request reviewers: named people, teams, and/or the learning system's recommendations."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "requested_reviewers": "user logins asked to review",
        "requested_teams": "team slugs asked to review",
        "pr_number": "pull request number",
        "recommendation_source": "config, learned, path-share or why there was no recommendation",
        "skipped": "only when nobody was requested: why",
    }

    action: Literal["request_review"]
    reviewers: NameList = Field(default_factory=list, description="User logins.")
    team_reviewers: NameList = Field(default_factory=list, description="Team slugs.")
    use_recommendations: bool = Field(False, description="Add reviewers recommended by the learning system.")

    @model_validator(mode="after")
    def _one_source(self) -> RequestReviewConfig:
        if not (self.reviewers or self.team_reviewers or self.use_recommendations):
            raise ValueError("reviewers: give reviewers, team_reviewers or set use_recommendations")
        return self


class MergePrConfig(RetryPolicy):
    """Merge the pull request once the named checks passed."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "merged": "whether the code host merged it",
        "merge_sha": "the merge commit",
        "message": "the code host's message",
        "pr_number": "pull request number",
        "head_sha": "the head commit that was merged",
        "method": "merge, squash or rebase",
        "checks": "the required checks that had passed",
    }

    action: Literal["merge_pr"]
    method: Literal["merge", "squash", "rebase"] = "squash"
    required_checks: NameList = Field(default_factory=list, description="Check names that must have succeeded.")


class PublishReviewConfig(RetryPolicy):
    """Put the upstream review on the pull request: comments on its lines, a check run, one summary comment."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "pr_number": "pull request number",
        "head_sha": "the commit reviewed",
        "filter_mode": "the filter mode used",
        "comments_added": "new inline comments",
        "comments_unchanged": "inline comments already there",
        "comments_fixed": "earlier comments marked fixed",
        "outside_filter": "findings the filter mode kept out of comments",
        "outside_diff": "findings outside the diff",
        "review_id": "only when a review was posted: its id",
        "passed": "no kept finding at or above fail_level",
        "check_run_id": "only with check_run: the check run's id",
        "conclusion": "only with check_run: success or failure",
        "annotations": "only with check_run: number of annotations",
        "check_run_requests": "only with check_run: requests it took",
        "summary_comment_id": "only with summary_comment: the summary comment's id",
        "summary_edited": "only with summary_comment: whether an earlier summary was edited",
        "sarif_upload": "only with upload_sarif: uploaded, skipped or refused, with the reason",
        "sarif_id": "only when code scanning accepted the SARIF upload: its id",
    }

    action: Literal["publish_review"]
    filter_mode: Literal["added", "diff_context", "file", "nofilter"] = Field(
        "added",
        description="Which findings get a comment (like reviewdog): lines the change added, any line of a hunk, "
        "any line of a changed file, or all. The others are counted in the summary.",
    )
    fail_level: Literal["info", "low", "medium", "high", "critical", "never"] = Field(
        "high", description="The check run fails on a kept finding of this severity or above (never: it never fails)."
    )
    connection_id: str = Field("github_default", min_length=1, max_length=250, description="Airflow GitHub connection.")
    check_name: str = Field("AutoPR review", min_length=1, max_length=100, description="Name of the check run.")
    inline_comments: bool = Field(True, description="Post a pull-request review with comments on the changed lines.")
    check_run: bool = Field(True, description="Create a check run with annotations on the head commit.")
    summary_comment: bool = Field(True, description="Keep one summary comment per pull request, edited in place.")
    dashboard_url: str | None = Field(None, max_length=500, description="Base URL of the dashboard the check links to.")
    upload_sarif: bool = Field(
        False,
        description="Also upload the review as SARIF to GitHub code scanning (needs the security_events scope); "
        "a repository without code scanning (HTTP 403/404) is noted in the summary, not a failure.",
    )


ActionConfig = Annotated[
    (
        QualityCheckConfig
        | CodeReviewConfig
        | CreateIssueConfig
        | PostCommentConfig
        | LabelPrConfig
        | RequestReviewConfig
        | MergePrConfig
        | PublishReviewConfig
    ),
    Field(discriminator="action"),
]

ACTION_CONFIGS: dict[str, type[RetryPolicy]] = {
    "quality_check": QualityCheckConfig,
    "code_review": CodeReviewConfig,
    "create_issue": CreateIssueConfig,
    "post_comment": PostCommentConfig,
    "label_pr": LabelPrConfig,
    "request_review": RequestReviewConfig,
    "merge_pr": MergePrConfig,
    "publish_review": PublishReviewConfig,
}


# --- condition ---------------------------------------------------------------------------------


class ConditionConfig(StrictModel):
    """A CEL expression over ``event`` and ``nodes.<node_id>.<output>``; picks the true or false branch."""

    OUTPUTS: ClassVar[dict[str, str]] = {"result": "the expression's value (true or false)"}

    expression: str = Field(min_length=1, max_length=4000, description="CEL expression that yields a bool.")

    @field_validator("expression")
    @classmethod
    def _valid_cel(cls, value: str) -> str:
        from include.workflows.expressions import check

        error = check(value)
        if error:
            raise ValueError(error)
        return value


# --- integration -------------------------------------------------------------------------------


class IntegrationConfig(RetryPolicy):
    """An HTTP call through an Airflow HTTP connection (host, auth and base headers live there)."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "status_code": "the HTTP status",
        "response_json": "the JSON response (null when not JSON or too long)",
        "response_text": "the start of a non-JSON response (null for JSON)",
    }

    connection_id: str = Field(min_length=1, max_length=250, description="Airflow connection id (HTTP type).")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    endpoint: str = Field("", max_length=2000, description="Path appended to the connection's host.")
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, description="JSON body (any JSON value).")
    expected_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [200, 201, 202, 204], min_length=1, description="Status codes that count as success."
    )

    @field_validator("endpoint")
    @classmethod
    def _relative_endpoint(cls, value: str) -> str:
        if "://" in value:
            raise ValueError("must be a path; the host comes from the Airflow connection")
        return check_template(value)

    @field_validator("headers", "body")
    @classmethod
    def _known_placeholders(cls, value: Any) -> Any:
        return check_template_tree(value)


# --- notification ------------------------------------------------------------------------------


class SlackNotification(RetryPolicy):
    """Post to Slack through an incoming-webhook connection."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "channel": "slack", "connection_id": "the connection used", "via": "which provider sent it",
        "message": "the rendered message",
    }

    channel: Literal["slack"]
    connection_id: str = Field(min_length=1, max_length=250, description="Airflow connection holding the webhook.")
    message: str = Field(min_length=1, max_length=40000)

    @field_validator("message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_template(value)


class EmailNotification(RetryPolicy):
    """Send an email through Airflow's SMTP connection."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "channel": "email", "connection_id": "the connection used", "to": "recipients", "subject": "rendered subject",
        "message": "the rendered message",
    }

    channel: Literal["email"]
    connection_id: str = Field("smtp_default", min_length=1, max_length=250, description="Airflow SMTP connection.")
    to: list[EmailStr] = Field(min_length=1, max_length=50)
    subject: str = Field(min_length=1, max_length=300)
    message: str = Field(min_length=1, max_length=65536)

    @field_validator("subject", "message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_template(value)


class DashboardNotification(RetryPolicy):
    """Show a message on the live dashboard of the workflow's project."""

    OUTPUTS: ClassVar[dict[str, str]] = {
        "channel": "dashboard", "event_key": "key of the live-dashboard event", "level": "info, warning or error",
        "message": "the rendered message",
    }

    channel: Literal["dashboard"]
    message: str = Field(min_length=1, max_length=4000)
    level: Literal["info", "warning", "error"] = "info"

    @field_validator("message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_template(value)


NotificationConfig = Annotated[
    SlackNotification | EmailNotification | DashboardNotification,
    Field(discriminator="channel"),
]

NOTIFICATION_CONFIGS: dict[str, type[RetryPolicy]] = {
    "slack": SlackNotification,
    "email": EmailNotification,
    "dashboard": DashboardNotification,
}

#: node type -> (discriminator field inside config or None, {subtype: model} or the one model)
NODE_TYPES: dict[str, tuple[str | None, dict[str, type[StrictModel]] | type[StrictModel]]] = {
    "trigger": (None, TriggerConfig),
    "action": ("action", ACTION_CONFIGS),
    "condition": (None, ConditionConfig),
    "integration": (None, IntegrationConfig),
    "notification": ("channel", NOTIFICATION_CONFIGS),
}


def is_node_type(value: Any) -> bool:
    """Whether ``value`` names a node type (a document may hold any JSON there, an object or a list too)."""
    return isinstance(value, str) and value in NODE_TYPES


def config_model(node_type: str, config: Any) -> type[StrictModel]:
    """The config model for a node, or ValueError naming the bad type / subtype field."""
    if not is_node_type(node_type):
        raise ValueError(f"unknown node type {node_type!r}; use one of: {', '.join(NODE_TYPES)}")
    key, models = NODE_TYPES[node_type]
    if key is None:
        return models  # type: ignore[return-value]
    assert isinstance(models, dict)
    sub = config.get(key) if isinstance(config, dict) else None
    if not isinstance(sub, str) or sub not in models:
        hint = did_you_mean(sub, models) if isinstance(sub, str) else ""
        given = "missing" if sub is None else f"{sub!r} is not one of them"
        raise ValueError(f"{key}: must be one of {', '.join(models)} ({given}){hint}")
    return models[sub]


def outputs_of(node_type: Any, config: Any) -> dict[str, str] | None:
    """The declared outputs of a node (``{name: description}``), or None when its type/subtype is unknown."""
    if not is_node_type(node_type):
        return None
    key, models = NODE_TYPES[node_type]
    if key is None:
        return dict(models.OUTPUTS)  # type: ignore[union-attr]
    assert isinstance(models, dict)
    sub = config.get(key) if isinstance(config, dict) else None
    model = models.get(sub) if isinstance(sub, str) else None
    return dict(model.OUTPUTS) if model is not None else None


def did_you_mean(word: str, choices: Any) -> str:
    """`` did you mean 'x'?`` for the closest of ``choices`` (difflib), or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
