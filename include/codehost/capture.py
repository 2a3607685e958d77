"""Dry runs on the code host: reads go out for real, every write is captured instead of sent.

A dry run (:mod:`include.dag_factory.dry_run`) runs a workflow's nodes on a
real event — the diff, the files and the bot's earlier comments are read from
the code host as in a real run — but nothing may change there.  The cut is
made in PyGithub's ``Requester``, the one object every call of
:class:`include.codehost.github.GitHubActions` goes through (its own REST
helper and PyGithub's objects alike): :func:`capturing` swaps the client's
requester for a :class:`CapturingRequester`, which

* lets ``GET`` and ``HEAD`` through unchanged;
* records any other verb (``POST``, ``PATCH``, ``PUT``, ``DELETE``) as a
  :class:`CapturedWrite` — method, path, query and the JSON body, never the
  credentials, which are added after this point — and answers it with a
  placeholder shaped enough for the caller to go on (a negative ``id`` so an
  edit of "the check run just created" is captured against it too);
* refuses, as a second line, any write that still reaches the transport
  (:class:`WriteBlocked`): a future PyGithub that bypassed the first hook
  fails the dry run instead of posting.

Requesters PyGithub derives from this one (``withLazy``, ``withAuth``) capture
into the same sink.  Capturing at the transport rather than per action method
means a code-host write added to the actions later is captured without anyone
remembering to.

:func:`summarize` groups captured writes the way a reviewer reads a pull
request: the review comments on their lines, the check run with its
conclusion and every annotation, the summary comment, labels added and
removed, reviewers requested, issues opened, merges, and the dry run's
notifications and integration calls (captured by the dry run itself, not by
the code-host client); anything else is listed as is.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from github import Github
from github.Requester import Requester

#: Verbs that only read; everything else is a write and is captured.
READ_VERBS = frozenset({"GET", "HEAD"})
#: What a captured write "answers" (GitHub's documented success status per verb).
_STATUS = {"POST": 201, "PATCH": 200, "PUT": 200, "DELETE": 204}
NOT_SENT = "dry run: captured, not sent"


class WriteBlocked(RuntimeError):
    """A write reached the transport of a capturing client; it was not sent."""


@dataclass
class CapturedWrite:
    """One code-host write a dry run would have sent."""

    seq: int
    method: str
    path: str  # without the API base path (``/repos/o/r/pulls/7/reviews``), query included
    body: Any = None
    node_id: str | None = None
    placeholder_id: int | None = None  # the id the placeholder answer gave the created object

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CapturedWrites:
    """The writes of one dry run, in the order they were made (thread-safe; ``node_id`` tags new ones)."""

    writes: list[CapturedWrite] = field(default_factory=list)
    node_id: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, path: str, body: Any) -> CapturedWrite:
        with self._lock:
            seq = len(self.writes) + 1
            write = CapturedWrite(seq=seq, method=method, path=path, body=body, node_id=self.node_id,
                                  placeholder_id=-seq if method != "DELETE" else None)
            self.writes.append(write)
            return write

    def as_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [w.as_dict() for w in self.writes]


class CapturingRequester(Requester):
    """A PyGithub requester that sends reads and captures writes (see the module docstring)."""

    _capture: CapturedWrites

    # Requester calls ``self.__requestEncode`` / ``self.__requestRaw``, which Python spells
    # ``_Requester__requestEncode`` / ``_Requester__requestRaw``: overriding those names is the hook.
    def _Requester__requestEncode(self, cnx, verb, url, parameters, requestHeaders, input, encode,  # noqa: N802
                                  stream=False, follow_302_redirect=False):
        if verb in READ_VERBS:
            return Requester._Requester__requestEncode(self, cnx, verb, url, parameters, requestHeaders, input,
                                                       encode, stream=stream,
                                                       follow_302_redirect=follow_302_redirect)
        path = self._relative(url, parameters)
        write = self._capture.record(verb, path, _plain(input))
        if verb == "DELETE":
            return _STATUS[verb], {}, ""
        answer = {"id": write.placeholder_id, "number": write.placeholder_id, "url": None, "html_url": None,
                  "merged": False, "sha": None, "message": NOT_SENT, "dry_run": True}
        return _STATUS.get(verb, 200), {}, json.dumps(answer)

    def _Requester__requestRaw(self, cnx, verb, url, requestHeaders, input, stream=False,  # noqa: N802
                               follow_302_redirect=False):
        if verb not in READ_VERBS:
            raise WriteBlocked(f"{verb} {url} reached the transport of a dry run's code-host client; not sent")
        return Requester._Requester__requestRaw(self, cnx, verb, url, requestHeaders, input, stream=stream,
                                                follow_302_redirect=follow_302_redirect)

    def _relative(self, url: str, parameters: dict[str, Any] | None) -> str:
        path = self._Requester__makeAbsoluteUrl(url)  # host-relative, with the API base path (GHE: /api/v3)
        prefix = getattr(self, "_Requester__prefix", "") or ""
        if prefix and path.startswith(prefix):
            path = path[len(prefix):] or "/"
        if parameters:
            path += ("&" if "?" in path else "?") + urlencode(parameters, doseq=True)
        return path

    def withLazy(self, lazy):  # noqa: N802 - PyGithub's name
        return _capture_requester(super().withLazy(lazy), self._capture)

    def withAuth(self, auth):  # noqa: N802 - PyGithub's name
        return _capture_requester(super().withAuth(auth), self._capture)


def _plain(value: Any) -> Any:
    """A request body as stored: JSON-able as it is, else its text."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _capture_requester(requester: Requester, sink: CapturedWrites) -> Requester:
    if not isinstance(requester, CapturingRequester):
        requester.__class__ = CapturingRequester
    requester._capture = sink
    return requester


def capturing(client: Github, sink: CapturedWrites) -> Github:
    """``client`` with every write captured into ``sink`` (in place; returns the client)."""
    _capture_requester(client.requester, sink)
    return client


# --- what a reviewer reads: the captured writes grouped ----------------------------------------------

_RE = {
    "review": re.compile(r"^/repos/[^/]+/[^/]+/pulls/(\d+)/reviews$"),
    "review_comment_edit": re.compile(r"^/repos/[^/]+/[^/]+/pulls/comments/(-?\d+)$"),
    "check_run": re.compile(r"^/repos/[^/]+/[^/]+/check-runs$"),
    "check_run_update": re.compile(r"^/repos/[^/]+/[^/]+/check-runs/(-?\d+)$"),
    "comment": re.compile(r"^/repos/[^/]+/[^/]+/issues/(\d+)/comments$"),
    "comment_edit": re.compile(r"^/repos/[^/]+/[^/]+/issues/comments/(-?\d+)$"),
    "labels": re.compile(r"^/repos/[^/]+/[^/]+/issues/(\d+)/labels$"),
    "label_remove": re.compile(r"^/repos/[^/]+/[^/]+/issues/(\d+)/labels/([^/]+)$"),
    "reviewers": re.compile(r"^/repos/[^/]+/[^/]+/pulls/(\d+)/requested_reviewers$"),
    "merge": re.compile(r"^/repos/[^/]+/[^/]+/pulls/(\d+)/merge$"),
    "issue": re.compile(r"^/repos/[^/]+/[^/]+/issues$"),
}
SUMMARY_MARKER = "<!-- autopr:summary "


def _match(kind: str, method: str, path: str, verb: str) -> re.Match | None:
    return _RE[kind].match(path.split("?", 1)[0]) if method == verb else None


def summarize(writes: list[dict[str, Any]]) -> dict[str, Any]:
    """The captured writes of a dry run as a reviewer reads them (pure; ``writes`` as :meth:`CapturedWrite.as_dict`)."""
    from urllib.parse import unquote

    out: dict[str, Any] = {"review_comments": [], "reviews": [], "review_comment_edits": [], "check_runs": [],
                           "summary_comment": None, "comments": [], "comment_edits": [], "labels_added": [],
                           "labels_removed": [], "reviewers_requested": [], "issues": [], "merges": [],
                           "notifications": [], "integrations": [], "other": []}
    check_runs: dict[int, dict[str, Any]] = {}
    for w in writes:
        method, path, body = w["method"], w["path"], w.get("body") or {}
        body = body if isinstance(body, dict) else {}
        node = w.get("node_id")
        if method == "NOTIFY":  # a dry run's notification, rendered (include.dag_factory.dry_run)
            out["notifications"].append({"node_id": node, **body})
        elif path.startswith("integration:"):
            out["integrations"].append({"node_id": node, "method": method, "target": path[len("integration:"):],
                                        "body": w.get("body")})
        elif m := _match("review", method, path, "POST"):
            out["reviews"].append({"node_id": node, "pr_number": int(m[1]), "commit_id": body.get("commit_id"),
                                   "event": body.get("event"), "body": body.get("body")})
            out["review_comments"] += [{"node_id": node, "path": c.get("path"), "line": c.get("line"),
                                        "side": c.get("side", "RIGHT"), "body": c.get("body")}
                                       for c in body.get("comments") or []]
        elif m := _match("review_comment_edit", method, path, "PATCH"):
            out["review_comment_edits"].append({"node_id": node, "comment_id": int(m[1]), "body": body.get("body")})
        elif _match("check_run", method, path, "POST"):
            output = body.get("output") or {}
            run = {"node_id": node, "name": body.get("name"), "head_sha": body.get("head_sha"),
                   "status": body.get("status"), "conclusion": body.get("conclusion"),
                   "title": output.get("title"), "summary": output.get("summary"),
                   "annotations": list(output.get("annotations") or []), "requests": 1}
            check_runs[w.get("placeholder_id") or -w["seq"]] = run
            out["check_runs"].append(run)
        elif m := _match("check_run_update", method, path, "PATCH"):
            run = check_runs.get(int(m[1]))
            if run is None:  # an update of a check run this dry run did not create
                out["other"].append(w)
                continue
            output = body.get("output") or {}
            run["annotations"] += list(output.get("annotations") or [])
            run["requests"] += 1
            for key in ("status", "conclusion"):
                if body.get(key) is not None:
                    run[key] = body[key]
        elif m := _match("comment", method, path, "POST"):
            comment = {"node_id": node, "pr_number": int(m[1]), "body": body.get("body"), "edit_of": None}
            if (comment["body"] or "").startswith(SUMMARY_MARKER):
                out["summary_comment"] = comment
            else:
                out["comments"].append(comment)
        elif m := _match("comment_edit", method, path, "PATCH"):
            edit = {"node_id": node, "comment_id": int(m[1]), "body": body.get("body"), "edit_of": int(m[1])}
            if (edit["body"] or "").startswith(SUMMARY_MARKER):
                out["summary_comment"] = edit
            else:
                out["comment_edits"].append(edit)
        elif _match("labels", method, path, "POST"):
            out["labels_added"] += [str(label) for label in body.get("labels") or []]
        elif m := _match("label_remove", method, path, "DELETE"):
            out["labels_removed"].append(unquote(m[2]))
        elif m := _match("reviewers", method, path, "POST"):
            out["reviewers_requested"].append({"node_id": node, "pr_number": int(m[1]),
                                               "reviewers": body.get("reviewers") or [],
                                               "team_reviewers": body.get("team_reviewers") or []})
        elif m := _match("merge", method, path, "PUT"):
            out["merges"].append({"node_id": node, "pr_number": int(m[1]), **body})
        elif _match("issue", method, path, "POST"):
            out["issues"].append({"node_id": node, "title": body.get("title"), "body": body.get("body"),
                                  "labels": body.get("labels") or []})
        else:
            out["other"].append(w)
    return out
