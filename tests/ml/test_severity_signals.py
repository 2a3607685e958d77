"""KeywordGroups: label-free security-vocabulary features inside the severity Pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features import build_featurizer, issues_frame
from ml.severity_signals import KEYWORD_GROUPS, KeywordGroups


def test_keyword_groups_count_the_right_phrases():
    texts = pd.DataFrame({"text": [
        "Remote Code Execution via unsafe deserialization",
        "Regular expression denial of service (ReDoS)",
        "nothing to see here",
    ]})
    out = KeywordGroups().fit(texts).transform(texts)
    names = list(KeywordGroups().get_feature_names_out())
    assert out.shape == (3, len(KEYWORD_GROUPS) + 1)
    col = {n: out[:, i] for i, n in enumerate(names)}
    assert col["kw_code_execution"][0] > 0 and col["kw_code_execution"][1] == 0
    assert col["kw_dos"][1] > 0 and col["kw_regex"][1] > 0 and col["kw_dos"][0] == 0
    assert all(col[f"kw_{g}"][2] == 0 for g in KEYWORD_GROUPS)
    assert col["text_chars"][0] > col["text_chars"][2] > 0


def _records(n: int) -> list[dict]:
    phrases = ["remote code execution in parser", "denial of service by regex", "information disclosure in log"]
    return [{"message": phrases[i % 3] + f" case {i}", "rule": "vulnerable-dependency/npm", "analyzer": "npm-audit",
             "file_path": "package-lock.json", "repository": f"pkg{i % 4}"} for i in range(n)]


def test_featurizer_with_keywords_does_not_depend_on_labels():
    """Same inputs, shuffled labels → identical features: the block never sees the label."""
    frame = issues_frame(_records(30))
    y = np.asarray(["high", "medium", "low"] * 10, dtype=object)
    a = build_featurizer(keywords=True, min_category_frequency=1).fit_transform(frame, y)
    b = build_featurizer(keywords=True, min_category_frequency=1).fit_transform(frame, y[::-1])
    base = build_featurizer(min_category_frequency=1).fit_transform(frame, y)
    assert a.shape[1] == base.shape[1] + len(KEYWORD_GROUPS) + 1
    assert abs(a - b).max() == 0
