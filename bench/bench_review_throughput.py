"""Pull-request reviews completed per minute by the compose cluster, with one Celery worker and with two.

    .venv/bin/python bench/bench_review_throughput.py [--reviews 8] [--workers 1 2]

For each worker count a fresh cluster is started from ``docker-compose.yaml``
on this host (tests/support/compose.py: PostgreSQL, Redis broker, init,
API server, scheduler, DAG processor, triggerer and the first N workers),
the Basic Quality Check template is instantiated, and ``--reviews`` pull-request
events are started at once against a real local repository with findings; the
clock runs from the first start until every run has finished.  The
``analysers`` pool is sized to the workers' slots so the pool is not what is
measured.  On a host with few cores the workers share the same CPUs: the ratio
shows where that saturates, not what two machines would do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.compose import ClusterApi, executed_on, fresh_cluster, new_secrets  # noqa: E402
from tests.support.github_standin import GitHubStandIn  # noqa: E402
from tests.support.sample_repo import make_repo  # noqa: E402

REDIS_DB = 12
CORE = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]


def measure(workers: int, reviews: int, repo) -> dict[str, object]:
    env_secrets = new_secrets()
    names = CORE + [f"airflow-worker-{i + 1}" for i in range(workers)]
    print(f"  starting the cluster with {workers} worker(s) ...", flush=True)
    with fresh_cluster(REDIS_DB, env_secrets, only=names) as cluster:
        api = ClusterApi(cluster, env_secrets["AUTOPR_ADMIN_PASSWORD"])
        slots = workers * int(cluster.env("airflow-worker-1")["AUTOPR_CELERY_WORKER_CONCURRENCY"])
        pool = api.client.get("/api/v2/pools/analysers").json()
        api.client.patch("/api/v2/pools/analysers", params={"update_mask": ["slots"]},
                         json={"pool": "analysers", "slots": slots, "include_deferred": pool["include_deferred"]}
                         ).raise_for_status()
        with GitHubStandIn() as github:
            dag_id, event = api.review_workflow(github, repo)
            print(f"  {reviews} reviews started at once ...", flush=True)
            started = time.monotonic()
            runs = api.start_runs("demo", "bqc", event, reviews)
            states = api.wait_finished(dag_id, runs, timeout=1800)
            elapsed = time.monotonic() - started
        per_worker = {f"airflow-worker-{i + 1}": executed_on(cluster, f"airflow-worker-{i + 1}")
                      for i in range(workers)}
    return {"elapsed_s": elapsed, "per_minute": reviews / (elapsed / 60),
            "succeeded": sum(s == "success" for s in states.values()), "tasks_per_worker": per_worker}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    repo = make_repo(Path(tempfile.mkdtemp(prefix="autopr-bench-repo-")) / "acme-app")
    results = {}
    for workers in args.workers:
        results[workers] = r = measure(workers, args.reviews, repo)
        print(f"{workers} worker(s): {r['succeeded']}/{args.reviews} reviews succeeded in {r['elapsed_s']:.1f} s = "
              f"{r['per_minute']:.1f} reviews/min; tasks per worker {r['tasks_per_worker']}", flush=True)
    if 1 in results and len(results) > 1:
        for workers, r in results.items():
            if workers != 1:
                print(f"throughput ratio {workers} workers / 1 worker: "
                      f"{r['per_minute'] / results[1]['per_minute']:.2f} (host cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
