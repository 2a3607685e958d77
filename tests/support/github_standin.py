"""A local HTTP server impersonating the parts of GitHub's REST API the platform calls.

GitHub cannot be reached from the test machine, so this is the one stand-in the
test suite allows.  It is a real HTTP server on a free port (any client —
PyGithub through the Airflow GitHub provider, httpx, curl — talks to it over
TCP) and it is strict the way GitHub is:

* every request needs ``Authorization: token <t>`` or ``Bearer <t>`` with the
  configured token (401 ``Bad credentials`` otherwise) and an ``Accept`` header
  GitHub serves (``application/vnd.github+json``, ``application/json``, ``*/*``;
  415 otherwise);
* path parameters are checked (unknown repository / pull / issue → 404);
* JSON bodies are checked against the documented fields and types; unknown keys,
  missing required fields and wrong types get 422 ``Validation Failed`` /
  ``Invalid request`` with GitHub's error shape;
* answers are documented-shaped JSON (enough for PyGithub to parse), with URLs
  pointing back at this server (so follow-up calls land here too).

Every request — accepted or not — is recorded in :attr:`GitHubStandIn.requests`
for assertions.  Served under an optional path prefix (``/api/v3``) to test
GitHub-Enterprise-style base URLs.

Endpoints (https://docs.github.com/en/rest):
``GET /repos/{o}/{r}``, ``GET /repos/{o}/{r}/issues/{n}``,
``POST /repos/{o}/{r}/issues``, ``POST /repos/{o}/{r}/issues/{n}/comments``,
``POST /repos/{o}/{r}/issues/{n}/labels``,
``DELETE /repos/{o}/{r}/issues/{n}/labels/{name}``,
``GET /repos/{o}/{r}/pulls/{n}``, ``POST /repos/{o}/{r}/pulls/{n}/requested_reviewers``,
``PUT /repos/{o}/{r}/pulls/{n}/merge``, ``GET /repos/{o}/{r}/commits/{ref}/check-runs``;
for feedback: ``GET /repos/{o}/{r}/pulls`` (``state``), ``GET /repos/{o}/{r}/pulls/comments`` (``since``,
``sort``, ``direction``), ``GET /repos/{o}/{r}/pulls/comments/{id}``, ``GET``/``POST
/repos/{o}/{r}/pulls/comments/{id}/reactions``, ``POST /repos/{o}/{r}/issues/comments/{id}/reactions``;
code scanning: ``POST /repos/{o}/{r}/code-scanning/sarifs`` (the decoded logs are kept in
``RepoState.sarif_uploads``; ``RepoState.code_scanning = False`` answers 403 as a repository without it does).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

DOCS = "https://docs.github.com/rest"
_NAME = r"[A-Za-z0-9_.-]+"
_ACCEPTED_MEDIA = ("application/vnd.github", "application/json", "*/*")


@dataclass
class Recorded:
    """One request as the stand-in saw it (path without the prefix)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    answer: Any = None  # the JSON the stand-in answered with (None for 204)


@dataclass
class PullState:
    number: int
    head_sha: str
    head_ref: str = "feature"
    base_ref: str = "main"
    author: str = "octocat"
    title: str = "A change"
    state: str = "open"
    merged: bool = False
    mergeable: bool = True
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    files: dict[str, str | None] = field(default_factory=dict)  # path -> unified-diff patch of the head
    pushed: dict[str, dict[str, str | None]] = field(default_factory=dict)  # every head sha so far -> its files
    reviews: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class IssueState:
    number: int
    title: str
    body: str | None = None
    author: str = "octocat"
    labels: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RepoState:
    full_name: str
    default_branch: str = "main"
    pulls: dict[int, PullState] = field(default_factory=dict)
    issues: dict[int, IssueState] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> run (head_sha, annotations, ...)
    review_comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> pull-request review comment
    issue_comment_reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # comment id -> reactions
    code_scanning: bool = True  # False: GitHub Advanced Security is not enabled (uploads answer 403)
    sarif_uploads: list[dict[str, Any]] = field(default_factory=list)  # id, commit_sha, ref, tool_name, sarif (decoded)


class _Reject(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any] | str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _documented(method: str, template: str, status: int, *inside: str | int) -> Any:
    """GitHub's documented example answer of an operation (a fresh copy)."""
    from tests.contracts.github_openapi import rest_contract

    return rest_contract().example(method, template, status, *inside)


def _over(example: dict[str, Any], /, **values: Any) -> dict[str, Any]:
    """``example`` with ``values`` written over it; nested objects are merged, everything else replaced."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(example.get(key), dict):
            _over(example[key], **value)
        else:
            example[key] = value
    return example


def _open_item() -> dict[str, Any]:
    """The fields of an issue or pull request nobody assigned, scheduled or closed, created just now."""
    return {"assignee": None, "assignees": [], "milestone": None, "closed_at": None,
            "created_at": _now(), "updated_at": _now()}  # fmt: skip


def _check_fields(body: Any, spec: dict[str, tuple[type | tuple[type, ...], bool]], resource: str) -> dict[str, Any]:
    """Validate a JSON object against {field: (types, required)} like GitHub's 422s."""
    if not isinstance(body, dict):
        raise _Reject(400, "Problems parsing JSON")
    unknown = sorted(set(body) - set(spec))
    if unknown:
        raise _Reject(422, f'Invalid request.\n\n"{unknown[0]}" is not a permitted key.')
    errors = []
    for name, (types, required) in spec.items():
        if name not in body:
            if required:
                errors.append({"resource": resource, "field": name, "code": "missing_field"})
            continue
        value = body[name]
        if (
            not isinstance(value, types)
            or isinstance(value, bool)
            and bool not in (types if isinstance(types, tuple) else (types,))
        ):
            errors.append({"resource": resource, "field": name, "code": "invalid"})
    if errors:
        raise _Reject(422, "Validation Failed", errors)
    return body


def _string_list(value: Any, name: str, resource: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Reject(422, "Validation Failed", [{"resource": resource, "field": name, "code": "invalid"}])
    return value


class GitHubStandIn:
    """The server.  Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, token: str = "ghp-test-token", prefix: str = "", check_contract: bool = True) -> None:
        self.token = token
        self.check_contract = check_contract
        self.bot_login = "autopr[bot]"  # who the token belongs to: author of everything the platform writes
        self.prefix = prefix.rstrip("/")
        self.repos: dict[str, RepoState] = {}
        self.requests: list[Recorded] = []
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> GitHubStandIn:
        from tests.contracts.github_openapi import rest_contract

        rest_contract()  # load (and on a fresh machine install) GitHub's description before the first request
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes (keep-alive)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                standin._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="github-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None and self.check_contract:
            self.assert_contract()

    def contract_problems(self) -> list[str]:
        """Every recorded exchange checked against GitHub's REST description (tests/contracts)."""
        from tests.contracts.github_openapi import rest_contract

        contract = rest_contract()
        return [
            problem
            for rec in list(self.requests)
            for problem in contract.problems(rec.method, rec.path, rec.body, rec.status, rec.answer, rec.query)
        ]

    def assert_contract(self) -> None:
        """Fail if the platform sent, or the stand-in answered, anything GitHub's description does not allow."""
        problems = self.contract_problems()
        if problems:
            raise AssertionError(
                "GitHub stand-in exchanges disagree with GitHub's OpenAPI description:\n  "
                + "\n  ".join(dict.fromkeys(problems))
            )

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The API base URL to configure clients with."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def connection_uri_json(self) -> str:
        """``AIRFLOW_CONN_<ID>`` JSON for an Airflow GitHub connection pointing here (no write throttling)."""
        return json.dumps(
            {
                "conn_type": "github",
                "host": self.url,
                "password": self.token,
                "extra": {"seconds_between_writes": 0, "seconds_between_requests": 0, "retries": 0},
            }
        )

    # --- state set-up --------------------------------------------------------
    def add_repo(self, full_name: str, default_branch: str = "main") -> RepoState:
        with self._lock:
            return self.repos.setdefault(full_name, RepoState(full_name, default_branch))

    def add_pull(self, full_name: str, number: int, head_sha: str, **kwargs: Any) -> PullState:
        repo = self.add_repo(full_name)
        with self._lock:
            pull = PullState(number=number, head_sha=head_sha, **kwargs)
            repo.pulls[number] = pull
            repo.issues.setdefault(number, IssueState(number, pull.title, author=pull.author, labels=pull.labels))
            return pull

    def push(self, full_name: str, number: int, head_sha: str, files: dict[str, str | None]) -> PullState:
        """A push to the pull request: a new head commit whose diff against the base is ``files`` (path -> patch)."""
        with self._lock:
            pull = self.repos[full_name].pulls[number]
            pull.head_sha, pull.files = head_sha, dict(files)
            pull.pushed[head_sha] = pull.files
            return pull

    def add_comment(self, full_name: str, number: int, body: str, author: str) -> dict[str, Any]:
        """A comment someone else wrote on the issue or pull request."""
        with self._lock:
            repo = self.repos[full_name]
            _status, comment = self._create_comment(repo, {"body": body}, str(number))
            comment["user"] = self._user(author)
            return comment

    def add_review_reply(self, full_name: str, in_reply_to: int, body: str, author: str) -> dict[str, Any]:
        """Someone's reply in the thread of review comment ``in_reply_to`` (the JSON GitHub would show)."""
        with self._lock:
            repo = self.repos[full_name]
            parent = repo.review_comments[in_reply_to]
            comment = {**parent, "id": next(self._ids), "body": body, "author": author, "in_reply_to_id": in_reply_to,
                       "reactions": [], "created_at": _now(), "updated_at": _now()}
            repo.review_comments[comment["id"]] = comment
            return self._review_comment_json(repo, comment)

    def add_review_comment(self, full_name: str, number: int, path: str, line: int, body: str,
                           author: str) -> dict[str, Any]:
        """A top-level review comment someone (not the bot) wrote on a line of the pull request."""
        with self._lock:
            repo = self.repos[full_name]
            pull = repo.pulls[number]
            comment = {"id": next(self._ids), "pull": number, "review_id": next(self._ids), "path": path, "line": line,
                       "side": "RIGHT", "commit_id": pull.head_sha, "body": body, "author": author,
                       "created_at": _now(), "updated_at": _now()}  # fmt: skip
            repo.review_comments[comment["id"]] = comment
            return self._review_comment_json(repo, comment)

    def react(self, full_name: str, comment_id: int, content: str, user: str) -> dict[str, Any]:
        """``user`` reacts to review comment ``comment_id`` (GitHub keeps one reaction per user and content)."""
        with self._lock:
            comment = self.repos[full_name].review_comments[comment_id]
            return self._add_reaction(comment.setdefault("reactions", []), content, user)[1]

    def set_check_runs(self, full_name: str, sha: str, runs: list[dict[str, Any]]) -> None:
        """Runs as ``{"name", "status", "conclusion"}`` dicts."""
        repo = self.add_repo(full_name)
        with self._lock:
            for run_id in [i for i, run in repo.check_runs.items() if run["head_sha"] == sha]:
                del repo.check_runs[run_id]
            for run in runs:
                self._new_check_run(repo, {"head_sha": sha, "status": "completed", **run})

    def _new_check_run(self, repo: RepoState, fields: dict[str, Any]) -> dict[str, Any]:
        status = fields.get("status") or ("completed" if fields.get("conclusion") else "queued")
        run = {
            "id": next(self._ids),
            "name": fields["name"],
            "head_sha": fields["head_sha"],
            "status": status,
            "conclusion": fields.get("conclusion"),
            "details_url": fields.get("details_url"),
            "external_id": fields.get("external_id"),
            "started_at": fields.get("started_at") or _now(),
            "completed_at": fields.get("completed_at") or (_now() if status == "completed" else None),
            "output": {},
            "annotations": [],
        }
        repo.check_runs[run["id"]] = run
        return run

    # --- assertions helpers --------------------------------------------------
    def calls(
        self, method: str | None = None, path_regex: str | None = None, status: int | None = None
    ) -> list[Recorded]:
        """Recorded requests filtered by method, full-match path regex and response status."""
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method)
            and (path_regex is None or re.fullmatch(path_regex, r.path))
            and (status is None or r.status == status)
        ]

    # --- request handling ----------------------------------------------------
    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = None
        rec = Recorded(
            method=handler.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=None,
        )
        with self._lock:
            self.requests.append(rec)
        status, payload = 500, {"message": "stand-in error"}
        try:
            if raw:
                if "json" not in rec.headers.get("content-type", "application/json"):
                    raise _Reject(415, "Unsupported 'Content-Type' header")
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    raise _Reject(400, "Problems parsing JSON") from None
            rec.body = body
            self._check_headers(rec)
            path = rec.path
            if self.prefix:
                if not path.startswith(self.prefix + "/"):
                    raise _Reject(404, "Not Found")
                path = path[len(self.prefix) :]
                rec.path = path
            with self._lock:
                self._query = rec.query
                status, payload = self._route(handler.command, path, body)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must show up as an answer, not a dropped connection
            if not isinstance(exc, _Reject):
                exc = _Reject(500, f"stand-in error: {type(exc).__name__}: {exc}")
            rej = exc
            status = rej.status
            payload = {"message": rej.message, "documentation_url": DOCS, "status": str(rej.status)}
            if rej.errors:
                payload["errors"] = rej.errors
        rec.status = status
        rec.answer = None if status == 204 else payload
        data = b"" if status == 204 else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        handler.end_headers()
        handler.wfile.write(data)

    def _check_headers(self, rec: Recorded) -> None:
        auth = rec.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            raise _Reject(401, "Requires authentication")
        if token != self.token:
            raise _Reject(401, "Bad credentials")
        accept = rec.headers.get("accept", "")
        if not any(media in accept for media in _ACCEPTED_MEDIA):
            raise _Reject(415, f"Unsupported 'Accept' header: {accept!r}")
        version = rec.headers.get("x-github-api-version")
        if version is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
            raise _Reject(400, f"Invalid API version: {version!r}")

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        routes: list[tuple[str, str, Any]] = [
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})", self._get_repo),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues", self._create_issue),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/(?P<n>\d+)", self._get_issue),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/(?P<n>\d+)/comments", self._create_comment),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/(?P<n>\d+)/labels", self._add_labels),
            (
                "DELETE",
                rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/(?P<n>\d+)/labels/(?P<name>[^/]+)",
                self._remove_label,
            ),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/(?P<n>\d+)", self._get_pull),
            (
                "POST",
                rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/(?P<n>\d+)/requested_reviewers",
                self._request_reviewers,
            ),
            ("PUT", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/(?P<n>\d+)/merge", self._merge),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/commits/(?P<ref>[^/]+)/check-runs", self._check_runs),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/(?P<n>\d+)/files", self._pull_files),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/(?P<n>\d+)/reviews", self._create_review),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/(?P<n>\d+)/comments", self._list_review_comments),
            ("PATCH", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/comments/(?P<cid>\d+)", self._edit_review_comment),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/comments/(?P<cid>\d+)", self._get_review_comment),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/comments", self._repo_review_comments),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls", self._list_pulls),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/comments/(?P<cid>\d+)/reactions",
             self._list_review_comment_reactions),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/pulls/comments/(?P<cid>\d+)/reactions",
             self._react_to_review_comment),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/comments/(?P<cid>\d+)/reactions",
             self._react_to_issue_comment),
            ("GET", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/(?P<n>\d+)/comments", self._list_comments),
            ("PATCH", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/issues/comments/(?P<cid>\d+)", self._edit_comment),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/check-runs", self._create_check_run),
            ("PATCH", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/check-runs/(?P<cid>\d+)", self._update_check_run),
            ("POST", rf"/repos/(?P<o>{_NAME})/(?P<r>{_NAME})/code-scanning/sarifs", self._upload_sarif),
        ]
        path_known = False
        for verb, pattern, fn in routes:
            m = re.fullmatch(pattern, path)
            if m:
                path_known = True
                if verb == method:
                    params = m.groupdict()
                    repo = self.repos.get(f"{params.pop('o')}/{params.pop('r')}")
                    if repo is None:
                        raise _Reject(404, "Not Found")
                    return fn(repo, body, **params)
        if path_known:
            raise _Reject(404, "Not Found")  # GitHub answers wrong verbs on known paths with 404 too
        raise _Reject(404, "Not Found")

    # --- JSON shapes -----------------------------------------------------------
    # Each answer is GitHub's own documented example for the operation (tests/contracts: the
    # OpenAPI description), with the stand-in's state written over it, so every field a client
    # may read is there and shaped the way GitHub shapes it.
    def _user(self, login: str) -> dict[str, Any]:
        return _over(
            _documented("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200, "user"),
            login=login,
            id=abs(hash(login)) % 10**6,
            type="Bot" if login.endswith("[bot]") else "User",
            url=f"{self.url}/users/{login}",
            html_url=f"https://github.example/{login}",
        )

    def _label(self, name: str) -> dict[str, Any]:
        return _over(
            _documented("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", 200, 0),
            id=abs(hash(name)) % 10**6,
            name=name,
            color="ededed",
            default=False,
            description="",
        )

    def _repo_json(self, repo: RepoState) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        data = _over(
            _documented("GET", "/repos/{owner}/{repo}", 200),
            id=abs(hash(repo.full_name)) % 10**6,
            name=name,
            full_name=repo.full_name,
            owner=self._user(owner),
            private=False,
            fork=False,
            language=None,
            url=f"{self.url}/repos/{repo.full_name}",
            html_url=f"https://github.example/{repo.full_name}",
            clone_url=f"https://github.example/{repo.full_name}.git",
            default_branch=repo.default_branch,
        )
        for key in ("parent", "source", "template_repository", "organization"):
            data.pop(key, None)  # not a fork, not from a template
        return data

    def _issue_json(self, repo: RepoState, issue: IssueState) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/issues/{issue.number}"
        data = _over(
            _documented("POST", "/repos/{owner}/{repo}/issues", 201),
            id=issue.number + 500000,
            number=issue.number,
            url=url,
            html_url=f"https://github.example/{repo.full_name}/issues/{issue.number}",
            comments_url=f"{url}/comments",
            labels_url=f"{url}/labels{{/name}}",
            events_url=f"{url}/events",
            repository_url=f"{self.url}/repos/{repo.full_name}",
            title=issue.title,
            body=issue.body,
            state="open",
            user=self._user(issue.author),
            labels=[self._label(n) for n in issue.labels],
            closed_by=None,
            comments=len(issue.comments),
            **_open_item(),
        )
        data.pop("pull_request", None)
        if issue.number in repo.pulls:
            pull_url = f"{self.url}/repos/{repo.full_name}/pulls/{issue.number}"
            data["pull_request"] = {"url": pull_url, "html_url": None, "diff_url": None, "patch_url": None}
        return data

    def _team(self, slug: str) -> dict[str, Any]:
        return _over(
            _documented("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200, "requested_teams", 0),
            name=slug,
            slug=slug,
            id=abs(hash(slug)) % 10**6,
            parent=None,
            type="organization",
        )

    def _pull_json(self, repo: RepoState, pull: PullState) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/pulls/{pull.number}"
        owner = repo.full_name.split("/")[0]
        return _over(
            _documented("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200),
            id=pull.number + 900000,
            number=pull.number,
            url=url,
            html_url=f"https://github.example/{repo.full_name}/pull/{pull.number}",
            issue_url=f"{self.url}/repos/{repo.full_name}/issues/{pull.number}",
            comments_url=f"{self.url}/repos/{repo.full_name}/issues/{pull.number}/comments",
            review_comments_url=f"{url}/comments",
            commits_url=f"{url}/commits",
            state="closed" if pull.merged else pull.state,
            title=pull.title,
            user=self._user(pull.author),
            labels=[self._label(n) for n in pull.labels],
            merged=pull.merged,
            mergeable=pull.mergeable,
            merged_by=None,
            merged_at=None,
            auto_merge=None,
            **_open_item(),
            requested_reviewers=[self._user(n) for n in pull.requested_reviewers],
            requested_teams=[self._team(t) for t in pull.requested_teams],
            head={
                "label": f"{owner}:{pull.head_ref}",
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                "user": self._user(owner),
                "repo": self._repo_json(repo),
            },
            base={
                "label": f"{owner}:{pull.base_ref}",
                "ref": pull.base_ref,
                "sha": "0" * 40,
                "user": self._user(owner),
                "repo": self._repo_json(repo),
            },
        )

    # --- handlers ---------------------------------------------------------------
    def _issue(self, repo: RepoState, n: str) -> IssueState:
        issue = repo.issues.get(int(n))
        if issue is None:
            raise _Reject(404, "Not Found")
        return issue

    def _pull(self, repo: RepoState, n: str) -> PullState:
        pull = repo.pulls.get(int(n))
        if pull is None:
            raise _Reject(404, "Not Found")
        return pull

    def _get_repo(self, repo: RepoState, body: Any) -> tuple[int, Any]:
        return 200, self._repo_json(repo)

    def _get_issue(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        return 200, self._issue_json(repo, self._issue(repo, n))

    def _get_pull(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        return 200, self._pull_json(repo, self._pull(repo, n))

    def _create_issue(self, repo: RepoState, body: Any) -> tuple[int, Any]:
        _check_fields(
            body,
            {
                "title": ((str, int), True),
                "body": ((str, type(None)), False),
                "assignee": ((str, type(None)), False),
                "milestone": ((str, int, type(None)), False),
                "labels": (list, False),
                "assignees": (list, False),
                "type": ((str, type(None)), False),
            },
            "Issue",
        )
        if not str(body["title"]).strip():
            raise _Reject(422, "Validation Failed", [{"resource": "Issue", "field": "title", "code": "missing_field"}])
        labels = []
        for item in body.get("labels") or []:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name:
                raise _Reject(422, "Validation Failed", [{"resource": "Issue", "field": "labels", "code": "invalid"}])
            labels.append(name)
        _string_list(body.get("assignees", []), "assignees", "Issue")
        number = max([*repo.issues, *repo.pulls, 0]) + 1
        issue = IssueState(number, str(body["title"]), body.get("body"), labels=labels)
        repo.issues[number] = issue
        return 201, self._issue_json(repo, issue)

    def _create_comment(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        _check_fields(body, {"body": (str, True)}, "IssueComment")
        issue = self._issue(repo, n)
        comment_id = next(self._ids)
        comment = _over(
            _documented("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 201),
            id=comment_id,
            node_id=f"IC_{comment_id}",
            url=f"{self.url}/repos/{repo.full_name}/issues/comments/{comment_id}",
            html_url=f"https://github.example/{repo.full_name}/issues/{n}#issuecomment-{comment_id}",
            issue_url=f"{self.url}/repos/{repo.full_name}/issues/{n}",
            body=body["body"],
            user=self._user(self.bot_login),
            author_association="NONE",
            created_at=_now(),
            updated_at=_now(),
        )
        issue.comments.append(comment)
        return 201, comment

    def _add_labels(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        if isinstance(body, list):  # GitHub also accepts a bare array
            names = _string_list(body, "labels", "Label")
        else:
            _check_fields(body, {"labels": (list, True)}, "Label")
            names = _string_list(body["labels"], "labels", "Label")
        if not names:
            raise _Reject(422, "Validation Failed", [{"resource": "Label", "field": "labels", "code": "missing_field"}])
        issue = self._issue(repo, n)
        for name in names:
            if name not in issue.labels:
                issue.labels.append(name)
        if int(n) in repo.pulls:
            repo.pulls[int(n)].labels = issue.labels
        return 200, [self._label(x) for x in issue.labels]

    def _remove_label(self, repo: RepoState, body: Any, n: str, name: str) -> tuple[int, Any]:
        issue = self._issue(repo, n)
        if name not in issue.labels:
            raise _Reject(404, "Label does not exist")
        issue.labels.remove(name)
        return 200, [self._label(x) for x in issue.labels]

    def _request_reviewers(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        _check_fields(body, {"reviewers": (list, False), "team_reviewers": (list, False)}, "PullRequest")
        reviewers = _string_list(body.get("reviewers", []), "reviewers", "PullRequest")
        teams = _string_list(body.get("team_reviewers", []), "team_reviewers", "PullRequest")
        if not reviewers and not teams:
            raise _Reject(
                422, "Validation Failed", [{"resource": "PullRequest", "field": "reviewers", "code": "missing_field"}]
            )
        pull = self._pull(repo, n)
        if pull.author in reviewers:
            raise _Reject(422, "Review cannot be requested from pull request author.")
        pull.requested_reviewers = sorted(set(pull.requested_reviewers) | set(reviewers))
        pull.requested_teams = sorted(set(pull.requested_teams) | set(teams))
        return 201, self._pull_json(repo, pull)

    def _merge(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        body = {} if body is None else body
        _check_fields(
            body,
            {
                "commit_title": (str, False),
                "commit_message": (str, False),
                "sha": (str, False),
                "merge_method": (str, False),
            },
            "PullRequest",
        )
        if body.get("merge_method", "merge") not in ("merge", "squash", "rebase"):
            raise _Reject(
                422, "Validation Failed", [{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}]
            )
        pull = self._pull(repo, n)
        if pull.merged or pull.state != "open" or not pull.mergeable:
            raise _Reject(405, "Pull Request is not mergeable")
        if body.get("sha") and body["sha"] != pull.head_sha:
            raise _Reject(409, "Head branch was modified. Review and try the merge again.")
        pull.merged = True
        merge_sha = f"{abs(hash((repo.full_name, pull.number))):040x}"[:40]
        return 200, _over(
            _documented("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", 200),
            sha=merge_sha,
            merged=True,
            message="Pull Request successfully merged",
        )

    def _check_run_json(self, repo: RepoState, run: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/check-runs/{run['id']}"
        return _over(
            _documented("POST", "/repos/{owner}/{repo}/check-runs", 201),
            id=run["id"],
            name=run["name"],
            head_sha=run["head_sha"],
            status=run["status"],
            conclusion=run["conclusion"],
            details_url=run.get("details_url"),
            external_id=run.get("external_id"),
            url=url,
            html_url=f"https://github.example/{repo.full_name}/runs/{run['id']}",
            started_at=run["started_at"],
            completed_at=run["completed_at"],
            output={
                "title": run["output"].get("title"),
                "summary": run["output"].get("summary"),
                "text": run["output"].get("text"),
                "annotations_count": len(run["annotations"]),
                "annotations_url": f"{url}/annotations",
            },
            pull_requests=[],
        )

    def _check_runs(self, repo: RepoState, body: Any, ref: str) -> tuple[int, Any]:
        runs = [self._check_run_json(repo, run) for run in repo.check_runs.values() if run["head_sha"] == ref]
        return 200, {"total_count": len(runs), "check_runs": runs}

    # --- review output: files, reviews, review comments, issue comments, check runs ----------------
    def _page(self, items: list[Any]) -> list[Any]:
        """GitHub's pagination (``per_page`` at most 100, default 30; ``page`` from 1)."""
        try:
            per_page = min(int(self._query.get("per_page", ["30"])[0]), 100)
            page = int(self._query.get("page", ["1"])[0])
        except ValueError:
            raise _Reject(422, "Validation Failed") from None
        return items[(page - 1) * per_page : page * per_page]

    def _pull_files(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        pull = self._pull(repo, n)
        files = []
        for path, patch in pull.files.items():
            added = sum(1 for x in (patch or "").splitlines() if x.startswith("+"))
            deleted = sum(1 for x in (patch or "").splitlines() if x.startswith("-"))
            entry = _over(
                _documented("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", 200, 0),
                filename=path,
                status="modified",
                additions=added,
                deletions=deleted,
                changes=added + deleted,
                sha=f"{abs(hash(path)):040x}"[:40],
                patch=patch,
            )
            if patch is None:
                entry.pop("patch")  # binary or too large: GitHub leaves it out
            files.append(entry)
        return 200, self._page(files)

    def _review_comment_json(self, repo: RepoState, comment: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/pulls/comments/{comment['id']}"
        data = _over(
            _documented("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments", 200, 0),
            id=comment["id"],
            node_id=f"PRRC_{comment['id']}",
            url=url,
            html_url=f"https://github.example/{repo.full_name}/pull/{comment['pull']}#discussion_r{comment['id']}",
            pull_request_url=f"{self.url}/repos/{repo.full_name}/pulls/{comment['pull']}",
            pull_request_review_id=comment["review_id"],
            path=comment["path"],
            line=comment["line"],
            original_line=comment["line"],
            side=comment["side"],
            start_line=None,
            original_start_line=None,
            start_side=None,
            commit_id=comment["commit_id"],
            original_commit_id=comment["commit_id"],
            body=comment["body"],
            user=self._user(comment.get("author") or self.bot_login),
            created_at=comment["created_at"],
            updated_at=comment["updated_at"],
            _links={"self": {"href": url}, "html": {"href": url}, "pull_request": {"href": url}},
            reactions=self._reaction_rollup(url, comment.get("reactions") or []),
        )
        if comment.get("in_reply_to_id") is not None:
            data["in_reply_to_id"] = comment["in_reply_to_id"]
        else:
            data.pop("in_reply_to_id", None)  # GitHub leaves it out unless the comment is a reply
        return data

    def _create_review(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        body = {} if body is None else body
        _check_fields(
            body,
            {"commit_id": (str, False), "body": (str, False), "event": (str, False), "comments": (list, False)},
            "PullRequestReview",
        )
        pull = self._pull(repo, n)
        event = body.get("event")
        if event not in (None, "APPROVE", "REQUEST_CHANGES", "COMMENT"):
            raise _Reject(422, "Validation Failed", ["Event is invalid"])
        if event in ("REQUEST_CHANGES", "COMMENT") and not body.get("body") and not body.get("comments"):
            raise _Reject(
                422,
                "Unprocessable Entity",
                ["Body is required for a review without comments"],
            )
        commit_id = body.get("commit_id") or pull.head_sha
        files = pull.pushed.get(commit_id, pull.files if commit_id == pull.head_sha else None)
        if files is None:  # an earlier head of the pull request is fine (its comments show as outdated)
            raise _Reject(
                422,
                "Unprocessable Entity",
                ["Commit is not part of the pull request"],
            )
        review_id = next(self._ids)
        new: list[dict[str, Any]] = []
        for item in body.get("comments") or []:
            spec = {"path": (str, True), "body": (str, True), "line": (int, False), "side": (str, False),
                    "start_line": (int, False), "start_side": (str, False), "position": (int, False)}  # fmt: skip
            _check_fields(item, spec, "PullRequestReviewComment")
            side = item.get("side", "RIGHT")
            if side not in ("LEFT", "RIGHT") or "line" not in item:
                raise _Reject(
                    422,
                    "Validation Failed",
                    ["Line and side are required"],
                )
            if item["line"] not in _diff_lines(files.get(item["path"]), side):
                raise _Reject(422, "Unprocessable Entity", ["Pull request review thread line must be part of the diff"])  # fmt: skip
            new.append({"id": next(self._ids), "pull": pull.number, "review_id": review_id, "path": item["path"],
                        "line": item["line"], "side": side, "commit_id": commit_id, "body": item["body"],
                        "created_at": _now(), "updated_at": _now()})  # fmt: skip
        for comment in new:
            repo.review_comments[comment["id"]] = comment
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
            event, "PENDING"
        )
        review = _over(
            _documented("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", 200),
            id=review_id,
            node_id=f"PRR_{review_id}",
            user=self._user(self.bot_login),
            body=body.get("body", ""),
            state=state,
            commit_id=commit_id,
            html_url=f"https://github.example/{repo.full_name}/pull/{n}#pullrequestreview-{review_id}",
            pull_request_url=f"{self.url}/repos/{repo.full_name}/pulls/{n}",
            submitted_at=_now(),
        )
        pull.reviews.append({**review, "comments": [c["id"] for c in new]})
        return 200, review

    def _list_review_comments(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        pull = self._pull(repo, n)
        comments = [
            self._review_comment_json(repo, c) for c in repo.review_comments.values() if c["pull"] == pull.number
        ]
        return 200, self._page(comments)

    def _edit_review_comment(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        _check_fields(body, {"body": (str, True)}, "PullRequestReviewComment")
        comment = repo.review_comments.get(int(cid))
        if comment is None:
            raise _Reject(404, "Not Found")
        comment.update(body=body["body"], updated_at=_now())
        return 200, self._review_comment_json(repo, comment)

    def _list_comments(self, repo: RepoState, body: Any, n: str) -> tuple[int, Any]:
        return 200, self._page(list(self._issue(repo, n).comments))

    def _edit_comment(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        _check_fields(body, {"body": (str, True)}, "IssueComment")
        for issue in repo.issues.values():
            for comment in issue.comments:
                if comment["id"] == int(cid):
                    if comment["user"]["login"] != self.bot_login:
                        raise _Reject(403, "Must have admin rights to Repository.")
                    comment.update(body=body["body"], updated_at=_now())
                    return 200, comment
        raise _Reject(404, "Not Found")

    # --- feedback: replies, reactions, the open pull requests and the repository's review comments -------
    _REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")

    def _reaction_rollup(self, url: str, reactions: list[dict[str, Any]]) -> dict[str, Any]:
        counts = {content: sum(1 for r in reactions if r["content"] == content) for content in self._REACTIONS}
        return {"url": f"{url}/reactions", "total_count": len(reactions), **counts}

    def _add_reaction(self, reactions: list[dict[str, Any]], content: str, user: str) -> tuple[int, dict[str, Any]]:
        for reaction in reactions:
            if reaction["content"] == content and reaction["user"]["login"] == user:
                return 200, reaction  # GitHub answers an existing reaction with 200 and adds nothing
        reaction_id = next(self._ids)
        reaction = _over(
            _documented("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", 201),
            id=reaction_id, node_id=f"REA_{reaction_id}", user=self._user(user), content=content, created_at=_now(),
        )
        reactions.append(reaction)
        return 201, reaction

    def _reaction_body(self, body: Any) -> str:
        _check_fields(body, {"content": (str, True)}, "Reaction")
        if body["content"] not in self._REACTIONS:
            raise _Reject(422, "Validation Failed", [{"resource": "Reaction", "field": "content", "code": "invalid"}])
        return body["content"]

    def _review_comment(self, repo: RepoState, cid: str) -> dict[str, Any]:
        comment = repo.review_comments.get(int(cid))
        if comment is None:
            raise _Reject(404, "Not Found")
        return comment

    def _get_review_comment(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        return 200, self._review_comment_json(repo, self._review_comment(repo, cid))

    def _repo_review_comments(self, repo: RepoState, body: Any) -> tuple[int, Any]:
        sort = self._query.get("sort", ["created"])[0]
        direction = self._query.get("direction", ["asc" if sort == "created" else "desc"])[0]
        if sort not in ("created", "updated", "created_at") or direction not in ("asc", "desc"):
            raise _Reject(422, "Validation Failed")
        since = self._query.get("since", [None])[0]
        comments = [c for c in repo.review_comments.values() if since is None or c["updated_at"] >= since]
        field = "updated_at" if sort == "updated" else "created_at"
        comments.sort(key=lambda c: (c[field], c["id"]), reverse=direction == "desc")
        return 200, self._page([self._review_comment_json(repo, c) for c in comments])

    def _list_pulls(self, repo: RepoState, body: Any) -> tuple[int, Any]:
        state = self._query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            raise _Reject(422, "Validation Failed")
        pulls = [p for n, p in sorted(repo.pulls.items())
                 if state == "all" or (p.state == "open") == (state == "open")]
        return 200, self._page([self._pull_json(repo, p) for p in pulls])

    def _list_review_comment_reactions(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        reactions = self._review_comment(repo, cid).get("reactions") or []
        content = self._query.get("content", [None])[0]
        return 200, self._page([r for r in reactions if content is None or r["content"] == content])

    def _react_to_review_comment(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        content = self._reaction_body(body)
        comment = self._review_comment(repo, cid)
        return self._add_reaction(comment.setdefault("reactions", []), content, self.bot_login)

    def _react_to_issue_comment(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        content = self._reaction_body(body)
        for issue in repo.issues.values():
            for comment in issue.comments:
                if comment["id"] == int(cid):
                    reactions = repo.issue_comment_reactions.setdefault(comment["id"], [])
                    return self._add_reaction(reactions, content, self.bot_login)
        raise _Reject(404, "Not Found")

    def _check_run_output(self, run: dict[str, Any], output: dict[str, Any] | None) -> None:
        if output is None:
            return
        _check_fields(output, {"title": (str, False), "summary": (str, True), "text": (str, False),
                               "annotations": (list, False), "images": (list, False)}, "CheckRun")  # fmt: skip
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            raise _Reject(422, "Validation Failed", [{"resource": "CheckRun", "field": "annotations", "code": "invalid",
                                                      "message": "at most 50 annotations per request"}])  # fmt: skip
        spec = {"path": (str, True), "start_line": (int, True), "end_line": (int, True), "start_column": (int, False),
                "end_column": (int, False), "annotation_level": (str, True), "message": (str, True),
                "title": (str, False), "raw_details": (str, False)}  # fmt: skip
        for item in annotations:
            _check_fields(item, spec, "CheckRun")
            if (
                item["annotation_level"] not in ("notice", "warning", "failure")
                or item["end_line"] < item["start_line"]
            ):
                raise _Reject(
                    422, "Validation Failed", [{"resource": "CheckRun", "field": "annotations", "code": "invalid"}]
                )
        run["output"] = {k: v for k, v in output.items() if k != "annotations"}
        run["annotations"] += annotations

    def _check_status(self, run: dict[str, Any], body: dict[str, Any]) -> None:
        status = body.get("status")
        if status is not None and status not in ("queued", "in_progress", "completed"):
            raise _Reject(422, "Validation Failed", [{"resource": "CheckRun", "field": "status", "code": "invalid"}])
        conclusions = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out")
        if body.get("conclusion") is not None and body["conclusion"] not in conclusions:
            raise _Reject(
                422, "Validation Failed", [{"resource": "CheckRun", "field": "conclusion", "code": "invalid"}]
            )
        if (status == "completed" or body.get("completed_at")) and not (
            body.get("conclusion") or run.get("conclusion")
        ):
            raise _Reject(
                422, "Validation Failed", [{"resource": "CheckRun", "field": "conclusion", "code": "missing_field"}]
            )
        if body.get("conclusion"):
            run.update(
                status="completed", conclusion=body["conclusion"], completed_at=body.get("completed_at") or _now()
            )
        elif status:
            run["status"] = status

    def _create_check_run(self, repo: RepoState, body: Any) -> tuple[int, Any]:
        _check_fields(body, {**CHECK_RUN_FIELDS, "name": (str, True), "head_sha": (str, True)}, "CheckRun")
        if not re.fullmatch(r"[0-9a-f]{40}", body["head_sha"]):
            raise _Reject(422, "Validation Failed", [{"resource": "CheckRun", "field": "head_sha", "code": "invalid"}])
        run = self._new_check_run(repo, {"name": body["name"], "head_sha": body["head_sha"], "status": "queued",
                                         "details_url": body.get("details_url"), "external_id": body.get("external_id"),
                                         "started_at": body.get("started_at")})  # fmt: skip
        try:
            self._check_status(run, body)
            self._check_run_output(run, body.get("output"))
        except _Reject:
            del repo.check_runs[run["id"]]
            raise
        return 201, self._check_run_json(repo, run)

    def _update_check_run(self, repo: RepoState, body: Any, cid: str) -> tuple[int, Any]:
        _check_fields(body, CHECK_RUN_FIELDS, "CheckRun")
        run = repo.check_runs.get(int(cid))
        if run is None:
            raise _Reject(404, "Not Found")
        self._check_status(run, body)
        self._check_run_output(run, body.get("output"))
        for key in ("name", "details_url", "external_id"):
            if key in body:
                run[key] = body[key]
        return 200, self._check_run_json(repo, run)


    def _upload_sarif(self, repo: RepoState, body: Any) -> tuple[int, Any]:
        """Code scanning's upload: validated as GitHub does, the log unpacked (gzip, then base64) and kept."""
        _check_fields(body, {"commit_sha": (str, True), "ref": (str, True), "sarif": (str, True),
                             "checkout_uri": (str, False), "started_at": (str, False), "tool_name": (str, False),
                             "validate": (bool, False)}, "CodeScanningSarifUpload")  # fmt: skip
        if not repo.code_scanning:
            raise _Reject(403, "Advanced Security must be enabled for this repository to use code scanning.")
        errors = [{"resource": "CodeScanningSarifUpload", "field": name, "code": "invalid"}
                  for name, pattern in (("commit_sha", r"[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?"),
                                        ("ref", r"refs/(heads|tags|pull)/.+"))
                  if not re.fullmatch(pattern, body[name])]  # fmt: skip
        if errors:
            raise _Reject(422, "Validation Failed", errors)
        try:
            log = json.loads(gzip.decompress(base64.b64decode(body["sarif"], validate=True)))
        except (binascii.Error, OSError, EOFError, ValueError):
            raise _Reject(400, "Invalid SARIF: the sarif field must be gzip-compressed, then base64-encoded, JSON") from None
        if not isinstance(log, dict) or log.get("version") != "2.1.0" or not isinstance(log.get("runs"), list):
            raise _Reject(400, "Invalid SARIF: a SARIF 2.1.0 log with runs is required")
        sarif_id = str(uuid.uuid4())
        repo.sarif_uploads.append({"id": sarif_id, "commit_sha": body["commit_sha"], "ref": body["ref"],
                                   "tool_name": body.get("tool_name"), "sarif": log})  # fmt: skip
        url = f"{self.url}/repos/{repo.full_name}/code-scanning/sarifs/{sarif_id}"
        return 202, _over(_documented("POST", "/repos/{owner}/{repo}/code-scanning/sarifs", 202), id=sarif_id, url=url)


CHECK_RUN_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, False), "details_url": (str, False), "external_id": (str, False), "status": (str, False),
    "started_at": (str, False), "conclusion": (str, False), "completed_at": (str, False),
    "output": (dict, False), "actions": (list, False),
}  # fmt: skip


def _diff_lines(patch: str | None, side: str) -> set[int]:
    """Lines of one side of a unified diff GitHub lets a review comment sit on (any line of a hunk)."""
    lines: set[int] = set()
    old = new = 0
    for text in (patch or "").splitlines():
        hunk = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", text)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
        elif new and text[:1] == "+":
            if side == "RIGHT":
                lines.add(new)
            new += 1
        elif new and text[:1] == "-":
            if side == "LEFT":
                lines.add(old)
            old += 1
        elif new and not text.startswith("\\"):
            lines.add(new if side == "RIGHT" else old)
            old, new = old + 1, new + 1
    return lines
