"""One severity scale for every analyser.

Why this module exists: ruff, bandit and radon each grade findings their own
way (ruff not at all — every rule is an "error"; bandit on two axes, severity
and confidence; radon with letter ranks).  Reviewers, the quality score, the
``fail_on_error`` switch and the learning system all need ONE ordinal scale,
so every finding is mapped onto :class:`include.enums.Severity`
(critical > high > medium > low > info) here, in one place, where the choices
can be read and argued about.

The rules of thumb behind the tables:

* **critical** — exploitable with high certainty (bandit HIGH severity at HIGH
  confidence, e.g. ``subprocess(..., shell=True)``) or code that cannot run at
  all (a syntax error).
* **high** — will fail at runtime or is a likely vulnerability: undefined
  names (F821/F822/F823), ruff's E9 and pylint-error (PLE) families, bandit
  HIGH×MEDIUM and MEDIUM×HIGH (e.g. ``eval``), radon rank E/F complexity.
* **medium** — a probable bug or a real maintenance hazard: flake8-bugbear (B),
  most other pyflakes correctness rules, bandit MEDIUM×MEDIUM, radon rank D,
  maintainability index rank C.
* **low** — hygiene: unused imports/variables, pycodestyle errors (E4/E7),
  bandit LOW-severity findings at HIGH/MEDIUM confidence, radon rank C,
  maintainability index rank B.
* **info** — cosmetic: warnings (W), anything bandit itself is unsure about.

Confidence (0..1) says how likely a finding is a real problem rather than noise;
it feeds ``code_review``'s ``min_confidence`` filter and is the learning
system's calibration target.
"""

from __future__ import annotations

from include.enums import Severity

# ``errors`` in workflow outputs (and ``fail_on_error``) means findings at or above this level.
ERROR_THRESHOLD = Severity.high

# --- ruff -------------------------------------------------------------------
# Checked in order: the most specific prefix first.
_RUFF_PREFIXES: tuple[tuple[str, Severity, float], ...] = (
    ("F821", Severity.high, 0.95),  # undefined name
    ("F822", Severity.high, 0.95),  # undefined name in __all__
    ("F823", Severity.high, 0.95),  # local variable referenced before assignment
    ("F63", Severity.high, 0.9),  # invalid comparisons (is with literal, ...)
    ("F7", Severity.high, 0.95),  # syntax-level errors (break outside loop, ...)
    ("F401", Severity.low, 0.95),  # unused import
    ("F841", Severity.low, 0.9),  # unused local variable
    ("F811", Severity.medium, 0.85),  # redefinition of unused name
    ("F", Severity.medium, 0.85),  # other pyflakes correctness rules
    ("E9", Severity.high, 0.95),  # io / syntax errors
    ("PLE", Severity.high, 0.85),  # pylint errors
    ("B", Severity.medium, 0.7),  # bugbear: likely bugs
    ("S", Severity.medium, 0.6),  # flake8-bandit (when a repo selects it)
    ("C90", Severity.medium, 0.9),  # mccabe complexity
    ("PLW", Severity.low, 0.7),
    ("PLR", Severity.low, 0.6),
    ("E", Severity.low, 0.9),  # pycodestyle errors
    ("W", Severity.info, 0.9),  # pycodestyle warnings
)
_RUFF_DEFAULT = (Severity.low, 0.6)


def ruff_severity(rule: str | None) -> tuple[Severity, float]:
    """Severity and confidence of a ruff rule code (``None`` = syntax error)."""
    if not rule:
        return Severity.critical, 1.0  # ruff reports syntax errors without a code
    for prefix, severity, confidence in _RUFF_PREFIXES:
        if rule.startswith(prefix):
            return severity, confidence
    return _RUFF_DEFAULT


# --- bandit -----------------------------------------------------------------
# issue_severity x issue_confidence -> platform severity.  Bandit's own docs
# treat the pair as two axes; a HIGH finding bandit is unsure about is worth
# less than a MEDIUM one it is sure about.
_BANDIT_MATRIX: dict[tuple[str, str], Severity] = {
    ("HIGH", "HIGH"): Severity.critical,
    ("HIGH", "MEDIUM"): Severity.high,
    ("HIGH", "LOW"): Severity.medium,
    ("MEDIUM", "HIGH"): Severity.high,
    ("MEDIUM", "MEDIUM"): Severity.medium,
    ("MEDIUM", "LOW"): Severity.low,
    ("LOW", "HIGH"): Severity.low,
    ("LOW", "MEDIUM"): Severity.low,
    ("LOW", "LOW"): Severity.info,
}
_BANDIT_CONFIDENCE = {"HIGH": 0.9, "MEDIUM": 0.6, "LOW": 0.3, "UNDEFINED": 0.3}


def bandit_severity(issue_severity: str, issue_confidence: str) -> tuple[Severity, float]:
    """Severity and confidence of a bandit result from its two grades."""
    sev = (issue_severity or "UNDEFINED").upper()
    conf = (issue_confidence or "UNDEFINED").upper()
    return _BANDIT_MATRIX.get((sev, conf), Severity.info), _BANDIT_CONFIDENCE.get(conf, 0.3)


# --- radon ------------------------------------------------------------------
# Cyclomatic-complexity ranks (A 1-5, B 6-10, C 11-20, D 21-30, E 31-40, F 41+).
# A and B are fine and produce no issue.
_RADON_CC = {"C": Severity.low, "D": Severity.medium, "E": Severity.high, "F": Severity.high}
# Maintainability-index ranks (A 20-100, B 10-19, C 0-9).
_RADON_MI = {"B": Severity.low, "C": Severity.medium}
RADON_CONFIDENCE = 0.8  # the metric is exact; whether it hurts is a judgement


def radon_cc_severity(rank: str) -> Severity | None:
    """Severity of a complexity rank, or None when the rank is acceptable (A, B)."""
    return _RADON_CC.get(rank.upper())


def radon_mi_severity(rank: str) -> Severity | None:
    """Severity of a maintainability-index rank, or None for rank A."""
    return _RADON_MI.get(rank.upper())


def is_error(severity: Severity | str) -> bool:
    """True for findings that count as errors (``fail_on_error``)."""
    return Severity(severity).rank >= ERROR_THRESHOLD.rank
