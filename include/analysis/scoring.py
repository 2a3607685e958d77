"""The quality score: one number 0..100 a threshold can be put on.

Formula (documented because users set ``quality_threshold`` against it)::

    penalty = sum(WEIGHTS[severity] for each finding)
    kloc    = max(1.0, analysed_lines / 1000)      # non-blank lines of analysed files
    score   = 100 * 100 / (100 + penalty / kloc)   # rounded to 1 decimal

Why this shape: the score falls smoothly and never goes negative (a hyperbola
rather than "100 minus points"); dividing by KLOC keeps a large, clean
repository from scoring worse than a tiny sloppy one, while the 1-KLOC floor
keeps a 20-line file with a critical finding from scoring near 100.  A single
critical finding in a small change costs ~29 points (score 71); ten unused
imports cost ~9.
"""

from __future__ import annotations

from collections.abc import Iterable

from include.analysis.findings import Finding
from include.enums import Severity

WEIGHTS: dict[Severity, float] = {
    Severity.critical: 40.0,
    Severity.high: 15.0,
    Severity.medium: 5.0,
    Severity.low: 1.0,
    Severity.info: 0.0,
}


def quality_score(findings: Iterable[Finding], analysed_lines: int) -> float:
    """Score 0..100 (100 = no weighted findings); see the module docstring."""
    penalty = sum(WEIGHTS[Severity(f.severity)] for f in findings)
    kloc = max(1.0, analysed_lines / 1000.0)
    return round(100.0 * 100.0 / (100.0 + penalty / kloc), 1)


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts per severity, every level present (zeros included), most severe first."""
    counts = {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}
    for f in findings:
        counts[Severity(f.severity).value] += 1
    return counts
