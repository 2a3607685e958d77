"""Helpfulness calibration: Brier score and ECE of the calibrated model vs the ×1.05/×0.95 multipliers.

    .venv/bin/python bench/bench_calibration.py [--rows 20000] [--holdouts 0.3,0.2,0.1] [--plot PATH]

Data: SYNTHETIC feedback from ``ml.calibration.synthetic_feedback`` — there is
no public record of reviewers judging analyser findings, so the generator
plants a known, context-dependent P(helpful) (per rule, worse in test files
for some rules, repository-specific for some rule/repository pairs, a little
higher for higher severities).  That known probability gives an "oracle" row:
the best Brier score any model could reach on these labels.

For each time-ordered holdout (newest rows held out) it prints Brier score,
ECE (10 equal-width bins), log loss and AUC for:
* the calibrated model (logistic regression on the issue's context, wrapped in
  CalibratedClassifierCV) — what ``autopr-helpfulness`` serves;
* the same logistic model without calibration;
* the proof of concept's per-rule multipliers (start 0.8, ×1.05 / ×0.95);
* the oracle (the generator's own probabilities).
A reliability plot of the last split is written to ``--plot``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from ml.calibration import (
        HELPFULNESS_COLUMNS,
        MultiplierBaseline,
        build_model,
        calibration_report,
        reliability_plot,
        synthetic_feedback,
    )

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--holdouts", default="0.3,0.2,0.1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default="/tmp/autopr-reliability.png")
    args = ap.parse_args()

    frame = synthetic_feedback(args.rows, seed=args.seed)
    print(f"{len(frame)} synthetic feedback rows, helpful rate {frame['label'].mean():.3f}")
    print(f"{'holdout':>7} {'predictor':<26} {'Brier':>7} {'ECE':>7} {'logloss':>8} {'AUC':>6}")
    curves = {}
    for frac in (float(x) for x in args.holdouts.split(",")):
        cut = int(len(frame) * (1 - frac))
        train, test = frame.iloc[:cut], frame.iloc[cut:]
        X, y = train.loc[:, list(HELPFULNESS_COLUMNS)], train["label"].to_numpy(int)
        Xt, yt = test.loc[:, list(HELPFULNESS_COLUMNS)], test["label"].to_numpy(int)
        t0 = time.perf_counter()
        calibrated = build_model(len(train), seed=args.seed).fit(X, y)
        fit_s = time.perf_counter() - t0
        raw = build_model(len(train), seed=args.seed).estimator.fit(X, y)
        rows = {
            f"calibrated ({calibrated.method})": calibrated.predict_proba(Xt)[:, 1],
            "logistic, uncalibrated": raw.predict_proba(Xt)[:, 1],
            "×1.05/×0.95 multipliers": MultiplierBaseline().fit(X, y).predict_proba(Xt)[:, 1],
            "oracle (true P)": test["true_p"].to_numpy(),
        }
        for name, p in rows.items():
            r = calibration_report(yt, p)
            print(f"{frac:>7.2f} {name:<26} {r.brier:>7.4f} {r.ece:>7.4f} {r.log_loss:>8.4f} {r.auc:>6.3f}")
        print(f"        (train {len(train)} rows, test {len(test)}; calibrated fit {fit_s:.1f}s)", flush=True)
        curves = {k: v for k, v in rows.items() if not k.startswith("oracle")}
        last_y = yt
    print(f"reliability plot: {reliability_plot(last_y, curves, args.plot)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
