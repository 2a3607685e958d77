"""A real local git repository with real findings, for tests that run the analysers."""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

# A file the real analysers have plenty to say about.
BAD_PY = textwrap.dedent(
    """
    import os
    import sys
    import subprocess


    def run(cmd):
        subprocess.call(cmd, shell=True)
        return eval(input())


    def tangled(a, b, c, d):
        if a:
            if b:
                for i in range(10):
                    if c and i % 2:
                        while d:
                            d -= 1
                            if d == 3 or (a and b) or c:
                                return 1
                    elif i > 5:
                        try:
                            return 2
                        except ValueError:
                            return 3
            elif c:
                return 4
        elif b or c or d:
            return 5
        return 0
    """
).lstrip()

CLEAN_PY = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    return a + b\n'


@dataclass
class GitRepo:
    path: Path
    first_sha: str  # branch main: only clean.py
    bad_sha: str  # branch feature (a pull request against main): clean.py + app/bad.py + README.md
    url: str

    def pull_files(self) -> dict[str, str]:
        """The feature branch's diff against main as GitHub lists a pull request's files: path -> patch (hunks only)."""
        names = _git(self.path, "diff", "--name-only", self.first_sha, self.bad_sha).splitlines()
        diffs = {name: _git(self.path, "diff", self.first_sha, self.bad_sha, "--", name) for name in names}
        return {name: diff[diff.index("@@"):] for name, diff in diffs.items()}


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=dev@example.com", "-c", "user.name=Dev", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def make_repo(root: Path) -> GitRepo:
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "clean.py").write_text(CLEAN_PY)
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "clean start")
    first = _git(root, "rev-parse", "HEAD")
    _git(root, "checkout", "-q", "-b", "feature")
    (root / "app").mkdir()
    (root / "app" / "bad.py").write_text(BAD_PY)
    (root / "README.md").write_text("not python\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "add risky code")
    bad = _git(root, "rev-parse", "HEAD")
    _git(root, "checkout", "-q", "main")
    return GitRepo(path=root, first_sha=first, bad_sha=bad, url=root.as_uri())
