"""Counting regex matches per text, running each regex only on texts that hold a literal every match needs.

Why: a handful of phrase-group regexes over a batch of texts is dominated by
scans that find nothing; most texts hit two or three groups.  The literals a
match must contain are read off the parsed pattern, and ``str.find`` over the
whole batch (texts joined by NUL) is far cheaper than a regex scan of each.
The counts are exactly ``len(rx.findall(text))``: the prefilter only skips
texts that cannot match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_LITERALS: dict[tuple[str, int], frozenset[str] | None] = {}


def count_matches(regexes: Sequence[re.Pattern], texts: list[str]) -> np.ndarray:
    """``counts[i, k] = len(regexes[k].findall(texts[i]))`` as float64."""
    counts = np.zeros((len(texts), len(regexes)), dtype=np.float64)
    joined: str | None = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:
        joined = None  # a NUL inside a text would blur document boundaries: scan each text
    offsets = np.cumsum([0] + [len(t) + 1 for t in texts]) if joined is not None else None
    for k, rx in enumerate(regexes):
        literals = required_literals(rx)
        if literals is None or joined is None:
            candidates = range(len(texts))
        else:
            candidates = docs_containing(joined, offsets, literals)
        column = counts[:, k]
        for i in candidates:
            hits = len(rx.findall(texts[i]))
            if hits:
                column[i] = hits
    return counts


def docs_containing(joined: str, offsets: np.ndarray, literals: frozenset[str]) -> list[int]:
    """Indices of the documents (joined with NUL) that contain any of ``literals``."""
    positions: list[int] = []
    for lit in literals:
        pos = joined.find(lit)
        while pos >= 0:
            positions.append(pos)
            pos = joined.find(lit, pos + 1)
    if not positions:
        return []
    return np.unique(np.searchsorted(offsets, positions, side="right") - 1).tolist()


def required_literals(rx: re.Pattern) -> frozenset[str] | None:
    """Strings one of which every match of ``rx`` contains; None when that cannot be read off the pattern."""
    key = (rx.pattern, rx.flags)
    if key not in _LITERALS:
        try:
            from re import _parser as sre_parse  # type: ignore[attr-defined]
        except ImportError:  # pragma: no cover - older Pythons
            import sre_parse  # type: ignore[no-redef]
        result = None
        if isinstance(rx.pattern, str) and not rx.flags & (re.IGNORECASE | re.VERBOSE):
            try:
                result = _necessary(list(sre_parse.parse(rx.pattern, rx.flags)), sre_parse)
            except Exception:  # noqa: BLE001 - any surprise: no prefilter for this pattern
                result = None
        _LITERALS[key] = frozenset(result) if result else None
    return _LITERALS[key]


def _necessary(items: list[Any], sre: Any) -> set[str] | None:
    """Necessary literal set of a sequence of parsed regex items (see :func:`required_literals`)."""
    c = sre  # opcodes live on the parser module's constants
    options: list[set[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            options.append({"".join(run)})
            run = []
        if op is c.SUBPATTERN:
            sub = _necessary(list(arg[-1]), sre)
            if sub:
                options.append(sub)
        elif op is c.BRANCH:
            alts = [_necessary(list(alt), sre) for alt in arg[1]]
            if all(alts):
                options.append(set().union(*alts))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and arg[0] >= 1:
            sub = _necessary(list(arg[2]), sre)
            if sub:
                options.append(sub)
    if run:
        options.append({"".join(run)})
    if not options:
        return None
    # the option whose shortest literal is longest filters best
    return max(options, key=lambda opt: (min(len(s) for s in opt), -len(opt)))
