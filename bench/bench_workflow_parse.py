"""Parse time of compiled workflows vs the same graphs written as hand-written TaskFlow DAG files.

Compiles N workflows (5-task graphs: trigger gate -> quality check -> condition
-> comment | dashboard notification) with the real compiler (spec + stub per
workflow), writes the same graphs as hand-written TaskFlow DAG files, and
parses each folder through Airflow's DagBag in a fresh process.  Prints ms per
DAG for both and the ratio (target: compiled within 2x of hand-written).

Each folder is parsed in its own process after importing what the DAG files
import (Airflow's DAG processor pre-imports those modules too,
``[dag_processor] parsing_pre_import_modules``), so the numbers are the
per-file cost the DAG processor pays.

    .venv/bin/python bench/bench_workflow_parse.py [--count 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def workflow(i: int) -> dict:
    """One 5-node workflow; thresholds vary so every spec differs."""
    return {
        "id": f"bench-{i:04d}",
        "name": f"Bench workflow {i}",
        "project": "bench",
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"event": "pr_opened", "branches": ["main"]}},
            {"id": "quality", "type": "action",
             "config": {"action": "quality_check", "quality_threshold": 50 + i % 50, "retries": 2}},
            {"id": "gate", "type": "condition", "config": {"expression": f"nodes.quality.quality_score >= {50 + i % 50}"}},
            {"id": "comment", "type": "action", "config": {"action": "post_comment", "template": "{issues_count} issues"}},
            {"id": "notify", "type": "notification", "config": {"channel": "dashboard", "message": "below the bar"}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "quality"},
            {"id": "e2", "source": "quality", "target": "gate"},
            {"id": "e3", "source": "gate", "target": "comment", "branch": "true"},
            {"id": "e4", "source": "gate", "target": "notify", "branch": "false"},
        ],
    }


HAND_WRITTEN = '''\
"""Hand-written TaskFlow DAG {i} (benchmark baseline)."""
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="hand__bench__{i:04d}",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["autopr", "project:bench"],
    params={{"project": "bench", "workflow_id": "bench-{i:04d}", "workflow_version": 1, "event": {{}}}},
)
def bench_{i:04d}():
    retry = dict(retries=2, retry_delay=timedelta(seconds=30), retry_exponential_backoff=2.0,
                 execution_timeout=timedelta(seconds=900))

    @task.short_circuit
    def start() -> dict:
        return {{"event": {{}}}}

    @task(**retry)
    def quality() -> dict:
        return {{"quality_score": 90}}

    @task.branch
    def gate() -> list[str]:
        return ["comment"]

    @task(trigger_rule="none_failed_min_one_success", **retry)
    def comment() -> dict:
        return {{}}

    @task(trigger_rule="none_failed_min_one_success", **retry)
    def notify() -> dict:
        return {{}}

    g = gate()
    start() >> quality() >> g >> [comment(), notify()]


bench_{i:04d}()
'''

PARSE = textwrap.dedent(
    """
    import json, sys, time
    import airflow.sdk  # noqa: F401  (imported by every DAG file)
    {preimport}
    from airflow.dag_processing.dagbag import DagBag
    folder = sys.argv[1]
    t0, c0 = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=folder, safe_mode=True)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({{"seconds": elapsed, "cpu": cpu, "dags": len(bag.dags), "errors": len(bag.import_errors)}}))
    """
)


def parse(folder: Path, preimport: str, env: dict) -> dict:
    code = PARSE.format(preimport=preimport)
    out = subprocess.run([sys.executable, "-c", code, str(folder)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="parse each folder this many times; best run counts")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="autopr-bench-") as tmp:
        tmp_path = Path(tmp)
        env = dict(os.environ)
        env.update({
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
            "AUTOPR_STATE_DIR": str(tmp_path / "state"),
            "AUTOPR_WORKFLOWS_DIR": str(tmp_path / "compiled"),
        })
        os.environ.update(env)
        from include.workflows.compiler import compile_workflow

        compiled, hand = tmp_path / "compiled", tmp_path / "hand"
        hand.mkdir()
        t0 = time.perf_counter()
        for i in range(args.count):
            compile_workflow(workflow(i), compiled)
        compile_s = time.perf_counter() - t0
        for i in range(args.count):
            (hand / f"bench_{i:04d}.py").write_text(HAND_WRITTEN.format(i=i))
        print(f"compiled {args.count} workflows in {compile_s:.2f}s ({compile_s / args.count * 1000:.2f} ms each: "
              f"validate + write spec and stub)")

        results: dict[str, dict[str, float]] = {}
        for label, folder, pre in (
            ("hand-written TaskFlow", hand, "import pendulum"),
            ("compiled workflows", compiled, "import include.dag_factory.dag_builder"),
        ):
            runs = [parse(folder, pre, env) for _ in range(args.repeat)]
            for run in runs:
                if run["dags"] != args.count or run["errors"]:
                    raise SystemExit(f"{label}: expected {args.count} DAGs and no errors, got {run}")
            wall = min(r["seconds"] for r in runs) / args.count * 1000
            cpu = min(r["cpu"] for r in runs) / args.count * 1000
            results[label] = {"wall": wall, "cpu": cpu}
            per_run = ", ".join(f"{r['seconds'] / args.count * 1000:.2f}" for r in runs)
            print(f"{label:24s} {wall:6.2f} ms/DAG wall, {cpu:6.2f} ms/DAG CPU (best of {args.repeat}; wall runs: {per_run})")
        hand_r, comp_r = results["hand-written TaskFlow"], results["compiled workflows"]
        print(f"ratio compiled / hand-written: {comp_r['wall'] / hand_r['wall']:.2f}x wall, "
              f"{comp_r['cpu'] / hand_r['cpu']:.2f}x CPU (target <= 2x)")
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} (CPU time is the robust number on a busy machine)")


if __name__ == "__main__":
    main()
