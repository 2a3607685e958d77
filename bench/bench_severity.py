"""Severity prediction on the shared advisories: nested, time-ordered evaluation.

Outer cuts: train = the advisories published before the cut, test = those up to
the next cut (the last: up to the end), so every advisory is tested at most once
and the test windows never overlap.  Inside each outer training window the
retrain's own procedure runs (``ml.training.train_candidates``): each
candidate's hyper-parameters and feature switches are tuned on inner time cuts,
the candidates are compared on the window's newest rows (the validation slice),
and the one that wins there is what the retrain would register (``selected``).
Nothing about the outer test window is used for any choice, so the numbers
printed are test numbers, not validation numbers.

Printed beside each candidate, on the same outer windows:

* ``plain`` — TF-IDF word n-grams of the issue text + class-balanced logistic
  regression, library defaults (also a retrain candidate, never tuned);
* ``majority`` — the training window's most frequent label;
* ``rules`` — security-vocabulary rules (``ml.severity_signals.KEYWORD_GROUPS``:
  code execution → critical, memory/auth/privilege/path/injection → high,
  XSS/CSRF/DoS/disclosure/... → medium, "minor"/"local" wording → low), else the
  training window's majority label; it predicts only classes the labels have.

Each macro-F1 (over low/medium/high/critical) comes with a bootstrap 95 %
interval over the window's rows; ``Δplain`` is the paired difference to
``plain`` with its interval.  Windows hold a few hundred rows with a handful of
``low``, so the intervals are wide: read a difference as real only when its
interval excludes zero, and never from one cut.

Advisories become model input through ``ml.ingest.advisory_records`` (the
repository and time the DB ingest stores) and ``ml.features.issues_frame``.

    .venv/bin/python bench/bench_severity.py [--cuts 0.6 0.7 0.8 0.9] [--models linear xgboost]
        [--no-tune] [--max-tune-rows 4000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.evaluation import evaluate_predictions, macro_f1_interval
from ml.features import issues_frame
from ml.ingest import ADVISORIES_PATH, advisory_records, load_advisories, time_splits
from ml.severity_signals import KEYWORD_GROUPS
from ml.training import BASELINE, train_candidates

LABELS = ["low", "medium", "high", "critical"]

#: (keyword groups, severity): the first rule whose any group matches the lower-cased text decides.
SEVERITY_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("code_execution",), "critical"),
    (("memory", "auth_bypass", "privilege", "path_traversal", "injection"), "high"),
    (("xss", "csrf", "dos", "regex", "info_disclosure", "redirect_spoof", "timing", "crypto", "prototype"), "medium"),
    (("low_impact",), "low"),
)


def rules(texts: pd.Series, default: str) -> np.ndarray:
    """The rule baseline: :data:`SEVERITY_RULES` on the text, ``default`` (a label that exists) when none matches."""
    compiled = [([re.compile(KEYWORD_GROUPS[g]) for g in groups], severity) for groups, severity in SEVERITY_RULES]

    def rule(text: str) -> str:
        text = text.lower()
        for patterns, severity in compiled:
            if any(p.search(text) for p in patterns):
                return severity
        return default

    return texts.map(rule).to_numpy(dtype=object)


def dataset_frame(path: Path) -> pd.DataFrame:
    """The advisories as a labelled model-input frame (ISSUE_COLUMNS + ``label`` + ``issue_id``), oldest first."""
    records = advisory_records(load_advisories(path))
    frame = issues_frame(records)
    frame["label"] = np.asarray([r["label"] for r in records], dtype=object)
    frame["issue_id"] = np.arange(len(frame))
    return frame


def line(name: str, y: np.ndarray, pred: np.ndarray, plain: np.ndarray, resamples: int, note: str = "") -> float:
    """Print one model's outer-window macro-F1 with its interval (and the paired difference to plain)."""
    m = evaluate_predictions(y, pred, labels=LABELS)
    low, high = macro_f1_interval(y, pred, LABELS, n_resamples=resamples)
    delta = ""
    if name != BASELINE:
        d_low, d_high = macro_f1_interval(y, pred, LABELS, baseline=plain, n_resamples=resamples)
        gain = m.macro_f1 - evaluate_predictions(y, plain, labels=LABELS).macro_f1
        delta = f"  Δplain {gain:+.3f} [{d_low:+.3f}, {d_high:+.3f}]"
    f1s = " ".join(f"{k}={v:.2f}" for k, v in m.per_class_f1.items())
    print(f"  {name:9s} macro-F1 {m.macro_f1:.3f} [{low:.3f}, {high:.3f}]  acc {m.accuracy:.3f}  [{f1s}]{delta}{note}")
    return m.macro_f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ADVISORIES_PATH)
    parser.add_argument("--cuts", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9])
    parser.add_argument("--models", nargs="+", default=["linear", "xgboost"], help="candidates beside plain")
    parser.add_argument("--no-tune", action="store_true", help="skip inner tuning (factory defaults)")
    parser.add_argument("--max-tune-rows", type=int, default=4000, help="newest rows the inner tuning fits on")
    parser.add_argument("--validation-percent", type=float, default=20,
                        help="newest share of each training window the candidates are compared on")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per interval")
    args = parser.parse_args()

    started = time.perf_counter()
    frame = dataset_frame(args.data)
    print(f"advisories: {len(frame)} rows, {frame['created_at'].min():%Y-%m-%d} .. {frame['created_at'].max():%Y-%m-%d}")
    summary: dict[str, list[float]] = {}
    for q, train, test in time_splits(frame, "created_at", args.cuts, test_share=None):
        print(f"\nouter cut {q:.0%}: train {len(train)} (≤ {train['created_at'].max():%Y-%m-%d}), "
              f"test {len(test)} ({test['created_at'].min():%Y-%m-%d} .. {test['created_at'].max():%Y-%m-%d}), "
              f"test labels {test['label'].value_counts().to_dict()}", flush=True)
        y = test["label"].to_numpy(dtype=object)
        t0 = time.perf_counter()
        trained = train_candidates(train, test, [BASELINE, *args.models], validation_percent=args.validation_percent,
                                   tune=not args.no_tune, max_tune_rows=args.max_tune_rows)
        predictions = {c.name: c.pipeline.predict(test) for c in trained}
        plain = predictions[BASELINE]
        majority = train["label"].mode()[0]
        text = test["rule"] + " " + test["message"]
        rows = [("majority", np.full(len(test), majority, dtype=object), ""),
                ("rules", rules(text, majority), "")]
        for c in sorted(trained, key=lambda c: c.name != BASELINE):
            rows.append((c.name, predictions[c.name], f"  (validation {c.validation.macro_f1:.3f}; {c.params or 'defaults'};"
                                                       f" {c.seconds:.0f}s)"))
        rows.append(("selected", predictions[trained[0].name], f"  (= {trained[0].name}, best on validation)"))
        for name, pred, note in rows:
            summary.setdefault(name, []).append(line(name, y, pred, plain, args.resamples, note))
        print(f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
    print("\nsummary: outer-cut macro-F1 (low/medium/high/critical)")
    print(f"  {'model':9s} " + " ".join(f"cut{q:.0%}".rjust(8) for q in sorted(args.cuts)) + "      mean")
    for name, vals in summary.items():
        print(f"  {name:9s} " + " ".join(f"{f:8.3f}" for f in vals) + f"   {np.mean(vals):.3f}")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
