"""Check a repository out at one commit into a temporary directory, with the git CLI.

Why the CLI and not a library: git itself understands every URL form users
have (https with a token, ssh, ``file://``, a plain local path) and its
shallow fetch of a single commit is the cheapest way to get one revision of a
big repository.  We fetch only the wanted commit (``--depth 1``) and fall back
to a full fetch when the server refuses to serve a bare sha.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 300
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")


class CheckoutError(RuntimeError):
    """The repository or revision could not be checked out (message says which and why)."""


@dataclass(frozen=True)
class Checkout:
    path: Path
    commit_sha: str


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Event data is untrusted input: never prompt for credentials, never run the ext:: transport.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    return subprocess.run(
        ["git", "-c", "protocol.ext.allow=never", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )


def _normalise_url(url: str) -> str:
    """Local paths become ``file://`` URLs so ``--depth`` is honoured (git ignores it for plain paths)."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return url
    path = Path(url).expanduser()
    if path.exists():
        return path.resolve().as_uri()
    return url


def _redact(text: str) -> str:
    """Hide credentials embedded in URLs before they reach logs or error messages."""
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)


@contextmanager
def checkout(clone_url: str, *, sha: str | None = None, ref: str | None = None) -> Iterator[Checkout]:
    """Yield a checkout of ``clone_url`` at ``sha`` (preferred) or ``ref`` (default: the remote HEAD).

    The temporary directory is removed on exit, whatever happens.
    """
    if not clone_url:
        raise CheckoutError("event.clone_url is required to check out the repository")
    if sha and not _SHA_RE.match(sha):
        raise CheckoutError(f"event.sha {sha!r} is not a commit sha")
    if clone_url.startswith(("-", "ext::")) or (ref or "").startswith("-"):
        raise CheckoutError("event.clone_url / event.ref must not start with '-' or use the ext:: transport")
    url = _normalise_url(clone_url)
    workdir = Path(tempfile.mkdtemp(prefix="autopr-checkout-"))
    try:
        for args in (["init", "-q"], ["remote", "add", "origin", url]):
            done = _git(args, workdir)
            if done.returncode:
                raise CheckoutError(f"git {args[0]} failed: {_redact(done.stderr.strip())}")
        want = sha or ref or "HEAD"  # a branch, tag or full ref name is resolved by the remote
        fetched = _git(["fetch", "-q", "--depth", "1", "origin", want], workdir)
        if fetched.returncode and sha:
            # Servers without allow(Reachable|Any)SHA1InWant refuse a bare sha: fetch everything instead.
            fetched = _git(["fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*"], workdir)
            target = sha
        else:
            target = "FETCH_HEAD"
        if fetched.returncode:
            raise CheckoutError(
                f"could not fetch {want!r} from {_redact(clone_url)}: {_redact(fetched.stderr.strip())}"
            )
        done = _git(["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", target], workdir)
        if done.returncode:
            raise CheckoutError(f"commit {want!r} not found in {_redact(clone_url)}: {_redact(done.stderr.strip())}")
        head = _git(["rev-parse", "HEAD"], workdir)
        commit = head.stdout.strip()
        if sha and not commit.startswith(sha.lower()):
            raise CheckoutError(f"checked out {commit} but event.sha is {sha}")
        yield Checkout(path=workdir, commit_sha=commit)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def changed_files(co: Checkout, base_ref: str) -> list[str] | None:
    """Files touched by the commits of ``co`` that are not on ``base_ref`` (a pull request's "files changed").

    Fetches exactly those commits (``--shallow-exclude``, the server's
    ``deepen-not``), then one more generation (``--deepen=1``) so the oldest of
    them can be diffed against its parent instead of against nothing, and lists
    the files each changed.  Returns None when the server or history does not
    allow it (e.g. the commit is already on ``base_ref``); callers then analyse
    everything.
    """
    if not base_ref or base_ref.startswith("-"):
        return None
    for args in (
        ["fetch", "-q", f"--shallow-exclude={base_ref}", "origin", co.commit_sha],
        ["fetch", "-q", "--deepen=1", "origin", co.commit_sha],
    ):
        if _git(args, co.path).returncode:
            return None
    shallow_file = _git(["rev-parse", "--git-path", "shallow"], co.path).stdout.strip()
    shallow_path = co.path / shallow_file
    boundary = shallow_path.read_text().split() if shallow_path.is_file() else []
    listed = _git(["log", "--format=", "--name-only", "--no-renames", "HEAD", "--not", *boundary], co.path)
    if listed.returncode:
        return None
    return sorted({line.strip() for line in listed.stdout.splitlines() if line.strip()})
