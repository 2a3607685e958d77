"""Wall time of the whole learning loop on 100,000 synthetic feedback rows.

Creates a throw-away PostgreSQL database (migrated with the app's Alembic
migrations), a temp MLflow store and dataset dir, then times:

1. ingest — synthetic review sessions (500 issues each) stored with
   ``record_review`` and one feedback row per issue (bulk insert of the same
   columns ``record_feedback`` writes);
2. export — extract since the watermark, GX suite, versioned Parquet;
3. retrain — GX re-check, frozen holdout, plain + linear + XGBoost Pipelines
   (linear and XGBoost tuned on inner time cuts), the class-prior check of the
   chosen one, MLflow logging, register ``challenger`` with its drift reference;
4. promote — challenger vs champion on the holdout (first run: becomes champion).

The "loop" (2-4) is what the DAGs run after feedback arrives; the target is
under 3 minutes for it.  Synthetic issues are generated from analyser-like
rules (ruff/bandit/radon/eslint/semgrep) with the platform's severity mapping
plus reviewer noise, so the model has something real to learn.

    .venv/bin/python bench/bench_learning_loop.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.temp_platform import temp_platform

RULES = [  # analyzer, rule, message template, severity
    ("ruff", "F401", "`{name}` imported but unused", "low"),
    ("ruff", "F841", "Local variable `{name}` is assigned to but never used", "low"),
    ("ruff", "F821", "Undefined name `{name}`", "high"),
    ("ruff", "E501", "Line too long ({n} > 100)", "info"),
    ("ruff", "B006", "Do not use mutable data structures for argument defaults in `{name}`", "medium"),
    ("ruff", "W291", "Trailing whitespace", "info"),
    ("bandit", "B602", "subprocess call with shell=True identified, security issue in `{name}`", "critical"),
    ("bandit", "B307", "Use of possibly insecure function - consider using safer ast.literal_eval for `{name}`", "high"),
    ("bandit", "B105", "Possible hardcoded password: '{name}'", "medium"),
    ("bandit", "B101", "Use of assert detected. The enclosed code will be removed when compiling to optimised byte code", "info"),
    ("radon", "CC-D", "`{name}` is too complex (cyclomatic complexity {n})", "medium"),
    ("radon", "CC-F", "`{name}` is very complex (cyclomatic complexity {n})", "high"),
    ("eslint", "no-eval", "eval can be harmful: `{name}`", "high"),
    ("eslint", "no-unused-vars", "'{name}' is defined but never used", "low"),
    ("semgrep", "sql-injection", "User input flows into a raw SQL query built in `{name}`", "critical"),
    ("semgrep", "xss", "Unescaped template variable `{name}` rendered into HTML", "high"),
]
NAMES = ["user_id", "config", "handler", "parse_args", "session", "payload", "token", "render", "db_url", "cache"]
DIRS = ["src", "app", "lib", "tests", "scripts", "api/v1", "core/utils", "web/static/js"]
SEVERITIES = ["info", "low", "medium", "high", "critical"]


def synthetic_issue(rng: random.Random) -> tuple[dict, str]:
    analyzer, rule, template, severity = rng.choice(RULES)
    ext = "js" if analyzer == "eslint" else rng.choice(["py", "py", "py", "js"]) if analyzer == "semgrep" else "py"
    path = f"{rng.choice(DIRS)}/{rng.choice(NAMES)}_{rng.randrange(50)}.{ext}"
    complexity = rng.randrange(1, 60)
    issue = {
        "file_path": path, "line": rng.randrange(1, 2000), "rule": rule, "analyzer": analyzer,
        "severity": severity, "message": template.format(name=rng.choice(NAMES), n=rng.randrange(20, 200)),
        "context": {"pr_size": rng.randrange(1, 3000), "complexity": complexity, "file_lines": rng.randrange(10, 5000)},
    }
    # reviewers: confirm most, downgrade findings in tests, upgrade very complex code, some noise
    label = severity
    if path.startswith("tests") and severity in ("medium", "high", "critical"):
        label = SEVERITIES[SEVERITIES.index(severity) - 1]
    elif analyzer == "radon" and complexity > 45:
        label = "critical"
    if rng.random() < 0.08:
        label = rng.choice(SEVERITIES)
    return issue, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="issues per review session")
    args = parser.parse_args()

    from sqlalchemy import insert

    with temp_platform("autopr-bench-loop-") as (engine, _settings):
        from include.db.models import MLFeedback, Project
        from include.db.session import session_scope
        from include.enums import FeedbackType
        from include.reviews.store import record_review
        from include.settings import get_settings

        rng = random.Random(7)
        timings: dict[str, float] = {}

        started = time.perf_counter()
        with session_scope() as s:
            s.add(Project(slug="bench", name="Bench"))
        start_day = datetime(2024, 1, 1, tzinfo=UTC)
        done = 0
        while done < args.rows:
            n = min(args.batch, args.rows - done)
            pairs = [synthetic_issue(rng) for _ in range(n)]
            with session_scope() as s:
                review = record_review(s, "bench", f"acme/repo-{rng.randrange(20)}", [p[0] for p in pairs],
                                       pr_number=done // args.batch + 1, source="bench")
                stamp = start_day + timedelta(minutes=done // 10)
                s.execute(insert(MLFeedback), [
                    {"issue_id": issue.id, "feedback_type": FeedbackType.helpful if label == issue.severity.value
                     else FeedbackType.not_helpful, "corrected_severity": None if label == issue.severity.value
                     else label, "username": "reviewer", "comment": "", "created_at": stamp}
                    for issue, (_, label) in zip(review.issues, pairs)
                ])
            done += n
            if done % 20_000 == 0:
                print(f"  ingested {done:,} issues + feedback ({time.perf_counter() - started:.0f}s)", flush=True)
        timings["ingest (record_review + feedback)"] = time.perf_counter() - started

        from ml.export import export_once
        from ml.registry import promote_challenger
        from ml.retrain import retrain

        cpu: dict[str, float] = {}
        loop_started, loop_cpu = time.perf_counter(), time.process_time()
        t, c = time.perf_counter(), time.process_time()
        version = export_once(engine, get_settings().dataset_dir, run_id="bench")
        timings["export (extract + GX + Parquet)"] = time.perf_counter() - t
        cpu["export (extract + GX + Parquet)"] = time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        summary = retrain(airflow_run_id="bench")
        timings["retrain (GX + 3 candidates + MLflow)"] = time.perf_counter() - t
        cpu["retrain (GX + 3 candidates + MLflow)"] = time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        outcome = promote_challenger(summary["holdout_path"], airflow_run_id="bench")
        timings["promote"] = time.perf_counter() - t
        cpu["promote"] = time.process_time() - c
        loop, loop_cpu = time.perf_counter() - loop_started, time.process_time() - loop_cpu

        print(f"\nrows: {version.total_rows:,} issues with feedback, {version.labelled_rows:,} labelled; "
              f"dataset {version.version} hash {version.hash[:12]}")
        for name, cand in summary["candidates"].items():
            print(f"  candidate {name:8s} holdout macro-F1 {cand['macro_f1']:.3f} accuracy {cand['accuracy']:.3f} "
                  f"(fit on {summary['train_rows']:,} newest rows, holdout {summary['holdout_rows']:,})")
        print(f"  registered v{summary['version']} ({summary['candidate']}), promoted: {outcome['promoted']}")
        for name, check in summary.get("priors", {}).items():
            print(f"  class priors of {name}: {'applied' if check['applied'] else 'not applied'} — {check['reason']}")
        print(f"  {'step':40s} {'wall':>9s} {'cpu':>9s}")
        for name, seconds in timings.items():
            print(f"  {name:40s} {seconds:7.1f} s" + (f" {cpu[name]:7.1f} s" if name in cpu else ""))
        print(f"  {'LOOP export→retrain→promote':40s} {loop:7.1f} s {loop_cpu:7.1f} s   (target < 180 s wall)")
        print(f"  {'TOTAL incl. ingest':40s} {loop + timings['ingest (record_review + feedback)']:7.1f} s")
        print(f"  cpu count {os.cpu_count()}, load avg {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
