"""Security-vocabulary signals for the severity featurizer (label-free).

Why this module exists: TF-IDF n-grams see spellings, not the handful of
phrases a security reviewer reads first ("remote code execution" vs "denial of
service").  :class:`KeywordGroups` counts hits of a few such phrase groups in
the issue text (``rule + message``) — the issue's own text only, never its
label or a CVSS score/vector — and lives inside the model Pipeline
(``ml.features.build_featurizer(keywords=True)``) so serving computes it the
same way.  Measured on the time-ordered advisory cuts (bench/bench_severity.py)
it lifts the linear candidate's mean macro-F1; a time-safe per-package severity
history encoding was also tried and lowered the mean, so it is not here.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ml.compiled.regex_literals import count_matches
from ml.compiled.strings import lower_many

#: group name → regex (lower-cased text).  Groups, not single words, so the model
#: learns one weight per kind of impact instead of one per spelling.
KEYWORD_GROUPS: dict[str, str] = {
    "code_execution": r"remote code execution|\brce\b|arbitrary (?:code|command)|code execution|command injection"
                      r"|execute arbitrary|shell injection|deseriali[sz]",
    "injection": r"sql injection|\bsqli\b|injection",
    "xss": r"cross[- ]site scripting|\bxss\b|html injection|script injection",
    "csrf": r"cross[- ]site request forgery|\bcsrf\b|\bxsrf\b",
    "dos": r"denial of service|\bdos\b|\bredos\b|resource exhaustion|infinite loop|stack overflow|crash|panic"
           r"|uncontrolled resource|memory exhaustion|hang",
    "regex": r"regular expression|\bregex|\bredos\b|catastrophic backtracking",
    "info_disclosure": r"information (?:disclosure|exposure|leak)|sensitive (?:information|data)|leak|expos",
    "auth_bypass": r"authenticat\w* bypass|bypass|unauthori[sz]ed|improper (?:access|authori[sz]ation)"
                   r"|access control|authorization",
    "privilege": r"privilege|escalat|\broot\b|sandbox",
    "memory": r"memory corruption|use[- ]after[- ]free|double free|buffer overflow|out[- ]of[- ]bounds|overflow"
              r"|uninitiali[sz]ed memory|segfault|memory safety|unsound|data race",
    "timing": r"timing|side[- ]channel",
    "path_traversal": r"path traversal|directory traversal|\.\./|arbitrary file|file (?:read|write|overwrite)",
    "crypto": r"crypt|certificate|\btls\b|\bssl\b|signature|nonce|\bkey\b",
    "redirect_spoof": r"open redirect|spoof|header injection|request smuggling|response splitting|ssrf"
                      r"|server[- ]side request forgery",
    "prototype": r"prototype pollution|__proto__",
    "low_impact": r"\bminor\b|\blow\b|limited|local (?:user|attacker)|requires? (?:local|physical|user interaction)",
    "remote": r"\bremote\b|network|unauthenticated|attacker",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in KEYWORD_GROUPS.items()}
_REGEXES = list(_COMPILED.values())


class KeywordGroups(TransformerMixin, BaseEstimator):
    """Text column → one log-count column per security-vocabulary group, plus text length.

    Stateless (``fit`` learns nothing), so it is safe on any split.  The
    counting is :meth:`transform_rows` on plain lists, which the Pipeline's
    ``transform`` and the compiled serving path both call.
    """

    def fit(self, X: Any, y: Any = None) -> KeywordGroups:
        return self

    def transform(self, X: Any) -> np.ndarray:
        return self.transform_rows(_column(X).fillna("").astype(str).tolist())

    def transform_rows(self, texts: list[str]) -> np.ndarray:
        """The texts' (lower-cased) group counts and length, log1p, as float32 columns."""
        texts = lower_many(texts)
        counts = np.column_stack([count_matches(_REGEXES, texts), [len(t) for t in texts]]) if texts else (
            np.zeros((0, len(_REGEXES) + 1)))
        return np.log1p(counts).astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"kw_{name}" for name in KEYWORD_GROUPS] + ["text_chars"], dtype=object)


def _column(X: Any) -> pd.Series:
    if isinstance(X, pd.DataFrame):
        return X.iloc[:, 0]
    if isinstance(X, pd.Series):
        return X
    return pd.Series(np.asarray(X).ravel())
