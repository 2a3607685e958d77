"""Which lines of a pull request a review comment can sit on, and which a finding may be placed on.

GitHub's pull-request files endpoint gives each changed file's unified-diff
``patch``; a review comment must name a line inside one of its hunks (``side``
``RIGHT`` for the new file's lines).  :func:`parse_patch` reads the hunks into
the new file's added and context line numbers, and :func:`in_filter` applies
reviewdog's filter modes:

* ``added`` — only lines the change added (the default: a review is about the change);
* ``diff_context`` — any new-side line of a hunk, added or context;
* ``file`` — any line of a changed file;
* ``nofilter`` — everything.

A finding the filter keeps may still lie outside every hunk (``file`` and
``nofilter`` modes): GitHub cannot anchor a comment there, so the caller lists
it in the summary comment instead (:func:`commentable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FilterMode = Literal["added", "diff_context", "file", "nofilter"]
FILTER_MODES: tuple[str, ...] = ("added", "diff_context", "file", "nofilter")

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class FileDiff:
    """One changed file: new-side line numbers the change added, and the hunks' unchanged context lines."""

    path: str
    added: frozenset[int]
    context: frozenset[int]

    @property
    def in_hunks(self) -> frozenset[int]:
        return self.added | self.context


def parse_patch(path: str, patch: str | None) -> FileDiff:
    """The added and context lines of one file's ``patch`` (None for binary or too-large files)."""
    added: set[int] = set()
    context: set[int] = set()
    new_line = 0
    for text in (patch or "").splitlines():
        hunk = _HUNK.match(text)
        if hunk:
            new_line = int(hunk.group(3))
            continue
        if not new_line or text.startswith("\\"):  # before the first hunk, or "\ No newline at end of file"
            continue
        if text.startswith("+"):
            added.add(new_line)
            new_line += 1
        elif text.startswith("-"):
            continue  # an old-side line: the new file's numbering does not advance
        else:
            context.add(new_line)
            new_line += 1
    return FileDiff(path, frozenset(added), frozenset(context))


def in_filter(diffs: dict[str, FileDiff], path: str, line: int | None, mode: FilterMode) -> bool:
    """Whether a finding at ``path:line`` is reported under ``mode``."""
    if mode == "nofilter":
        return True
    diff = diffs.get(path)
    if diff is None:
        return False
    if mode == "file":
        return True
    lines = diff.added if mode == "added" else diff.in_hunks
    return line is not None and line in lines


def commentable(diffs: dict[str, FileDiff], path: str, line: int | None) -> bool:
    """Whether GitHub accepts a review comment on the new side of ``path:line``."""
    diff = diffs.get(path)
    return diff is not None and line is not None and line in diff.in_hunks
