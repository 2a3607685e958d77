"""GitHub REST calls the workflow actions make, through the Airflow GitHub provider.

Credentials come from an Airflow connection (default ``github_default``) via
:class:`~airflow.providers.github.hooks.github.GithubHook`, so a token or a
GitHub App installation configured in Airflow just works.  The API base URL is
the connection's ``host`` when set (GitHub Enterprise: ``https://host/api/v3``),
else ``settings.github_api_url``.

The client is *lazy* (PyGithub ``lazy=True``): building a repository or pull
request object sends nothing, so posting a comment is exactly one
``POST /repos/{owner}/{repo}/issues/{n}/comments`` — the documented call and
nothing else.  Optional connection extras tune PyGithub:
``seconds_between_writes`` / ``seconds_between_requests`` (defaults 1.0 / 0.25,
GitHub's advice against secondary rate limits), ``timeout`` (seconds, default 15) and ``retries`` (default 3).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

from github import Github, GithubException
from urllib3.util import Retry

from include.settings import get_settings

DEFAULT_CONN_ID = "github_default"


class CodeHostError(RuntimeError):
    """A code-host call failed; the message names the call and GitHub's answer."""

    def __init__(self, call: str, status: int | None, detail: str) -> None:
        super().__init__(f"{call} failed" + (f" with HTTP {status}" if status else "") + f": {detail}")
        self.call = call
        self.status = status


def _detail(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = data.get("message") or str(exc.data or exc)
    errors = data.get("errors")
    return f"{message} {errors}" if errors else str(message)


def github_client(conn_id: str = DEFAULT_CONN_ID) -> Github:
    """A lazy PyGithub client for the Airflow connection ``conn_id``."""
    from airflow.providers.github.hooks.github import GithubHook

    hook = GithubHook(github_conn_id=conn_id)  # resolves token / GitHub App auth
    conn = hook.get_connection(conn_id)
    extras = conn.extra_dejson or {}
    base_url = (conn.host or get_settings().github_api_url).rstrip("/")
    if "://" not in base_url:
        base_url = f"https://{base_url}"
    kwargs = hook.get_conn().requester.kwargs
    retries = int(extras.get("retries", 3))
    kwargs.update(
        base_url=base_url,
        lazy=True,
        timeout=int(extras.get("timeout", 15)),
        seconds_between_writes=float(extras.get("seconds_between_writes", 1.0)),
        seconds_between_requests=float(extras.get("seconds_between_requests", 0.25)),
        retry=Retry(total=retries, backoff_factor=0.5, status_forcelist=(502, 503, 504), allowed_methods=None)
        if retries
        else None,
    )
    return Github(**kwargs)


@dataclass(frozen=True)
class CheckRun:
    id: int
    name: str
    status: str
    conclusion: str | None


class GitHubActions:
    """The handful of REST calls workflow actions need, with errors that say what failed."""

    def __init__(self, client: Github, repository: str) -> None:
        if not repository or "/" not in repository:
            raise ValueError(f'repository must be "owner/name", got {repository!r}')
        self.client = client
        self.repository = repository
        self.repo = client.get_repo(repository)

    def _call(self, call: str, fn, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except GithubException as exc:
            raise CodeHostError(call, exc.status, _detail(exc)) from None

    def post_comment(self, number: int, body: str) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/issues/{number}/comments`` (PRs are issues)."""
        call = f"POST /repos/{self.repository}/issues/{number}/comments"
        comment = self._call(call, self.repo.get_issue(number).create_comment, body)
        return {"comment_id": comment.id, "comment_url": comment.html_url}

    def _rest(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One REST call on this repository through the client's requester (auth, retries, throttling kept)."""
        call = f"{method} /repos/{self.repository}{path}"
        url = f"{self.repo.url}{path}"
        _headers, data = self._call(call, self.client.requester.requestJsonAndCheck, method, url,
                                    parameters=params, input=body)  # fmt: skip
        return data

    def _all_pages(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated list (``per_page=100``, the documented maximum)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._rest("GET", path, params={**(params or {}), "per_page": 100, "page": page}) or []
            items += batch
            if len(batch) < 100:
                return items
            page += 1

    def add_labels(self, number: int, labels: list[str]) -> list[str]:
        """``POST /repos/{owner}/{repo}/issues/{number}/labels`` with ``{"labels": [...]}``, the documented body."""
        self._rest("POST", f"/issues/{number}/labels", {"labels": labels})
        return labels

    def remove_label(self, number: int, label: str) -> bool:
        """``DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}``; False if it was not there."""
        call = f"DELETE /repos/{self.repository}/issues/{number}/labels/{label}"
        try:
            self.repo.get_issue(number).remove_from_labels(label)
        except GithubException as exc:
            if exc.status == 404:
                return False  # removing an absent label is a no-op, not a failure
            raise CodeHostError(call, exc.status, _detail(exc)) from None
        return True

    def request_reviewers(self, number: int, reviewers: list[str], team_reviewers: list[str]) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers``."""
        call = f"POST /repos/{self.repository}/pulls/{number}/requested_reviewers"
        pull = self.repo.get_pull(number)
        kwargs: dict[str, Any] = {}
        if reviewers:
            kwargs["reviewers"] = reviewers
        if team_reviewers:
            kwargs["team_reviewers"] = team_reviewers
        self._call(call, pull.create_review_request, **kwargs)
        return {"requested_reviewers": reviewers, "requested_teams": team_reviewers}

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/issues``."""
        call = f"POST /repos/{self.repository}/issues"
        issue = self._call(call, self.repo.create_issue, title=title, body=body, labels=labels)
        return {"issue_number": issue.number, "issue_url": issue.html_url}

    def pull_head_sha(self, number: int) -> str:
        """``GET /repos/{owner}/{repo}/pulls/{number}`` → the head commit sha."""
        call = f"GET /repos/{self.repository}/pulls/{number}"
        pull = self.repo.get_pull(number)
        self._call(call, pull.complete)  # lazy objects fetch on demand; do it here so errors are named
        return pull.head.sha

    def check_runs(self, sha: str) -> list[CheckRun]:
        """``GET /repos/{owner}/{repo}/commits/{sha}/check-runs`` (all pages)."""
        call = f"GET /repos/{self.repository}/commits/{sha}/check-runs"
        runs = self._call(call, lambda: list(self.repo.get_commit(sha).get_check_runs()))
        return [CheckRun(id=r.id, name=r.name, status=r.status, conclusion=r.conclusion) for r in runs]

    def merge(self, number: int, method: str, sha: str | None = None) -> dict[str, Any]:
        """``PUT /repos/{owner}/{repo}/pulls/{number}/merge`` (``sha`` guards against a moved head)."""
        call = f"PUT /repos/{self.repository}/pulls/{number}/merge"
        kwargs: dict[str, Any] = {"merge_method": method}
        if sha:
            kwargs["sha"] = sha
        status = self._call(call, self.repo.get_pull(number).merge, **kwargs)
        return {"merged": bool(status.merged), "merge_sha": status.sha, "message": status.message}

    # --- review output: inline review, check run, one summary comment ----------------------------
    def pull_files(self, number: int) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/pulls/{number}/files`` (all pages): each file's ``filename`` and ``patch``."""
        return self._all_pages(f"/pulls/{number}/files")

    def review_comments(self, number: int) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/pulls/{number}/comments`` (all pages)."""
        return self._all_pages(f"/pulls/{number}/comments")

    def create_review(self, number: int, commit_id: str, body: str, comments: list[dict[str, Any]]) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/pulls/{number}/reviews`` with event ``COMMENT`` (never approves or blocks)."""
        payload = {"commit_id": commit_id, "body": body, "event": "COMMENT", "comments": comments}
        return self._rest("POST", f"/pulls/{number}/reviews", payload)

    def edit_review_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        """``PATCH /repos/{owner}/{repo}/pulls/comments/{comment_id}``."""
        return self._rest("PATCH", f"/pulls/comments/{comment_id}", {"body": body})

    def issue_comments(self, number: int) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/issues/{number}/comments`` (all pages)."""
        return self._all_pages(f"/issues/{number}/comments")

    def create_issue_comment(self, number: int, body: str) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/issues/{number}/comments``, answering the created comment."""
        return self._rest("POST", f"/issues/{number}/comments", {"body": body})

    def edit_issue_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        """``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}``."""
        return self._rest("PATCH", f"/issues/comments/{comment_id}", {"body": body})

    def create_check_run(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/check-runs``."""
        return self._rest("POST", "/check-runs", payload)

    def update_check_run(self, check_run_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}`` (annotations given here are appended)."""
        return self._rest("PATCH", f"/check-runs/{check_run_id}", payload)

    def upload_sarif(self, commit_sha: str, ref: str, sarif_log: dict[str, Any], tool_name: str) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/code-scanning/sarifs``: a SARIF log for code scanning; answers ``id``, ``url``.

        GitHub takes the log gzip-compressed, then base64-encoded, in ``sarif``; ``ref`` is the full
        reference (``refs/pull/<n>/head`` shows the results on the pull request, ``refs/heads/<b>``
        in the Security tab).  Code scanning processes the upload later (202 Accepted).
        """
        packed = gzip.compress(json.dumps(sarif_log, separators=(",", ":")).encode(), mtime=0)
        payload = {"commit_sha": commit_sha, "ref": ref, "sarif": base64.b64encode(packed).decode("ascii"),
                   "tool_name": tool_name}  # fmt: skip
        return self._rest("POST", "/code-scanning/sarifs", payload)

    # --- feedback from where reviewers are: replies, reactions -----------------------------------
    def review_comment(self, comment_id: int) -> dict[str, Any]:
        """``GET /repos/{owner}/{repo}/pulls/comments/{comment_id}``."""
        return self._rest("GET", f"/pulls/comments/{comment_id}")

    def open_pulls(self) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/pulls?state=open`` (all pages)."""
        return self._all_pages("/pulls", {"state": "open"})

    def repo_review_comments(self, since: str | None = None) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/pulls/comments`` of every pull request, oldest update first, from ``since``."""
        params = {"sort": "updated", "direction": "asc", **({"since": since} if since else {})}
        return self._all_pages("/pulls/comments", params)

    def review_comment_reactions(self, comment_id: int) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions`` (all pages)."""
        return self._all_pages(f"/pulls/comments/{comment_id}/reactions")

    def react_to_review_comment(self, comment_id: int, content: str) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions``."""
        return self._rest("POST", f"/pulls/comments/{comment_id}/reactions", {"content": content})

    def react_to_issue_comment(self, comment_id: int, content: str) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions``."""
        return self._rest("POST", f"/issues/comments/{comment_id}/reactions", {"content": content})
