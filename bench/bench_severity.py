"""Severity prediction on the shared advisories, time-ordered splits.

Prints accuracy and macro-F1 of the trained candidates (ml.training) beside
two baselines, on several cut points (train = oldest q of advisories by
publication date, test = the next 20%), and their mean:

* ``prefix-rules`` — the proof of concept's four keyword rules, applied to the
  lower-cased message: contains "critical" → critical, "security" → high,
  "error" → medium, "warning" → low, anything else → info (its default).
* ``majority`` — always the most frequent training label.

Reading the numbers: test slices are 150-300 rows with only ~10 ``low``
advisories, so macro-F1 moves by a few points on a handful of rows, and the
XGBoost candidate's mean macro-F1 moves by up to ±0.03 with its random seed
alone.  Judge a change by the mean over all cuts (and, for XGBoost, over a
few seeds), never by one cut.

Advisories go through the same mapping as ``ml.ingest`` (``advisory_issue``)
and the same ``ml.features.issues_frame`` the served model gets.

    .venv/bin/python bench/bench_severity.py [--cuts 0.6 0.7 0.8 0.9] [--models linear xgboost]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.evaluation import evaluate_predictions
from ml.features import issues_frame
from ml.ingest import ADVISORIES_PATH, advisory_issue, load_advisories, time_splits
from ml.training import fit_candidate

PREFIX_RULES = (("critical", "critical"), ("security", "high"), ("error", "medium"), ("warning", "low"))


def prefix_rules(messages: pd.Series) -> np.ndarray:
    def rule(message: str) -> str:
        text = message.lower()
        for needle, severity in PREFIX_RULES:
            if needle in text:
                return severity
        return "info"

    return messages.map(rule).to_numpy(dtype=object)


def dataset_frame(path: Path) -> pd.DataFrame:
    advisories = load_advisories(path)
    issues = [advisory_issue(row) for row in advisories.to_dict("records")]
    for issue, row in zip(issues, advisories.to_dict("records")):
        issue["repository"] = row["package"]
        issue["created_at"] = row["published"]
    frame = issues_frame(issues)
    frame["label"] = advisories["severity"].to_numpy(dtype=object)
    frame["issue_id"] = np.arange(len(frame))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ADVISORIES_PATH)
    parser.add_argument("--cuts", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9])
    parser.add_argument("--models", nargs="+", default=["linear", "xgboost"])
    args = parser.parse_args()

    frame = dataset_frame(args.data)
    print(f"advisories: {len(frame)} rows, {frame['created_at'].min():%Y-%m-%d} .. {frame['created_at'].max():%Y-%m-%d}")
    results: dict[str, list[tuple[float, float, float]]] = {}
    for q, train, test in time_splits(frame, "created_at", args.cuts):
        print(f"\ncut {q:.0%}: train {len(train)} (≤ {train['created_at'].max():%Y-%m-%d}), "
              f"test {len(test)} ({test['created_at'].min():%Y-%m-%d} .. {test['created_at'].max():%Y-%m-%d}), "
              f"test labels {test['label'].value_counts().to_dict()}")
        y = test["label"].to_numpy(dtype=object)
        labels = ["low", "medium", "high", "critical"]
        rows = {
            "prefix-rules": (prefix_rules(test["message"]), 0.0),
            "majority": (np.full(len(test), train["label"].mode()[0], dtype=object), 0.0),
        }
        for name in args.models:
            started = time.perf_counter()
            model = fit_candidate(name, train)
            rows[name] = (model.predict(test), time.perf_counter() - started)
        for name, (pred, seconds) in rows.items():
            m = evaluate_predictions(y, pred, labels=labels)
            results.setdefault(name, []).append((q, m.accuracy, m.macro_f1))
            f1s = " ".join(f"{k}={v:.2f}" for k, v in m.per_class_f1.items())
            print(f"  {name:13s} accuracy {m.accuracy:.3f}  macro-F1 {m.macro_f1:.3f}  [{f1s}]"
                  + (f"  fit {seconds:.1f}s" if seconds else ""))
    print("\nsummary (macro-F1 over low/medium/high/critical):")
    print(f"  {'model':13s} " + " ".join(f"cut{q:.0%}".rjust(8) for q in args.cuts) + "   mean-F1  mean-acc")
    for name, vals in results.items():
        print(f"  {name:13s} " + " ".join(f"{f:8.3f}" for _, _, f in vals)
              + f"   {np.mean([f for _, _, f in vals]):.3f}    {np.mean([a for _, a, _ in vals]):.3f}")


if __name__ == "__main__":
    main()
