"""Reviewer recommendation quality on the real golang/tools change history.

    .venv/bin/python bench/bench_reviewers.py [--cuts 0.5,0.6,0.7,0.8,0.9] [--data PATH]

For each cut point the learned ranker is trained on the changes before the
cut; then the changes up to the next cut point (the last: up to the end) are
replayed in time order: each is ranked with only the history before it, then
added to the history.  The test windows do not overlap, so every change is
counted once, and the mean is over disjoint windows.  Beside the learned ranker
(all in ``bench/reviewer_baselines.py``):

* ``path-sim`` — the literature's file-path similarity (FPS, Thongtanunam et
  al. 2014): past reviews scored by the common-path similarity of their files;
* ``revfinder`` — RevFinder (Thongtanunam et al. 2015): common prefix and
  common suffix rankings combined by Borda count;
* ``popularity`` — most reviews so far.

Several cut points so nobody tunes to one split.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_DATA = Path("/work/shared/data/reviews_golang_tools.parquet")


def main() -> int:
    import pandas as pd

    from bench.reviewer_baselines import changes_from_frame, evaluate_cut

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cuts", default="0.5,0.6,0.7,0.8,0.9", help="train fractions (time-ordered)")
    args = ap.parse_args()

    changes = changes_from_frame(pd.read_parquet(args.data))
    print(f"{len(changes)} changes, {changes[0].key[:8]}..{changes[-1].key[:8]}")
    header = f"{'cut':>5} {'method':<11} {'n':>5} {'top1':>6} {'top3':>6} {'top5':>6} {'top10':>6} {'MRR':>6}"
    print(header)
    print("-" * len(header))
    summary: dict[str, list[dict[str, float]]] = {}
    fractions = sorted(float(c) for c in args.cuts.split(","))
    for i, frac in enumerate(fractions):
        cut = int(len(changes) * frac)
        end = int(len(changes) * fractions[i + 1]) if i + 1 < len(fractions) else len(changes)
        t0 = time.perf_counter()
        results = evaluate_cut(changes, cut, end)
        for method, m in results.items():
            summary.setdefault(method, []).append(m)
            print(f"{frac:>5.2f} {method:<11} {int(m['n']):>5} {m['top1']:>6.3f} {m['top3']:>6.3f} "
                  f"{m['top5']:>6.3f} {m['top10']:>6.3f} {m['mrr']:>6.3f}")
        print(f"      (train {cut}, test {cut}..{end}: train+replay {time.perf_counter() - t0:.1f}s)", flush=True)
    print("-" * len(header))
    for method, rows in summary.items():
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("top1", "top3", "top5", "top10", "mrr")}
        print(f"{'mean':>5} {method:<11} {'':>5} {mean['top1']:>6.3f} {mean['top3']:>6.3f} {mean['top5']:>6.3f} "
              f"{mean['top10']:>6.3f} {mean['mrr']:>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
