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
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from tests.support.compose import ClusterApi, OneHost, executed_on, remove, start_cluster  # noqa: E402
from tests.support.github_standin import GitHubStandIn  # noqa: E402
from tests.support.sample_repo import make_repo  # noqa: E402

PG_ADMIN_URL = os.environ.get("AUTOPR_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_DB = 12
CORE = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]


def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def measure(workers: int, reviews: int, repo) -> dict[str, object]:
    run_dir = Path(tempfile.mkdtemp(prefix="autopr-bench-throughput-"))
    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"autopr_bt_{suffix}_{name}" for name in ("autopr", "airflow", "mlflow")}
    for name in databases.values():
        _admin(f'CREATE DATABASE "{name}"')
    broker = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    broker.flushdb()
    env_secrets = {"AUTOPR_JWT_SECRET": secrets.token_urlsafe(48), "AUTOPR_ADMIN_PASSWORD": secrets.token_urlsafe(12),
                   "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                   "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16)}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPR_", "AIRFLOW", "MLFLOW_"))}
    names = CORE + [f"airflow-worker-{i + 1}" for i in range(workers)]
    cluster = None
    try:
        print(f"  starting the cluster with {workers} worker(s) ...", flush=True)
        cluster = start_cluster(OneHost(run_dir, databases, REDIS_DB), env_secrets, base_env, only=names)
        api = ClusterApi(cluster, env_secrets["AUTOPR_ADMIN_PASSWORD"])
        slots = workers * int(cluster.env("airflow-worker-1")["AUTOPR_CELERY_WORKER_CONCURRENCY"])
        pool = api.client.get("/api/v2/pools/analysers").json()
        api.client.patch("/api/v2/pools/analysers", params={"update_mask": ["slots"]},
                         json={"pool": "analysers", "slots": slots, "include_deferred": pool["include_deferred"]}
                         ).raise_for_status()
        with GitHubStandIn() as github:
            github.add_repo("acme/app")
            github.add_pull("acme/app", 7, repo.bad_sha)
            api.use_github(github)
            dag_id = api.workflow_from_template("Basic Quality Check", "demo", "bqc")
            event = {"kind": "pr_opened", "repository": "acme/app", "clone_url": repo.url, "sha": repo.bad_sha,
                     "ref": "feature", "base_ref": "main", "pr_number": 7, "author": "octocat"}
            print(f"  {reviews} reviews started at once ...", flush=True)
            started = time.monotonic()
            runs = api.start_runs("demo", "bqc", event, reviews)
            states = api.wait_finished(dag_id, runs, timeout=1800)
            elapsed = time.monotonic() - started
        per_worker = {f"airflow-worker-{i + 1}": executed_on(cluster, f"airflow-worker-{i + 1}")
                      for i in range(workers)}
        return {"elapsed_s": elapsed, "per_minute": reviews / (elapsed / 60),
                "succeeded": sum(s == "success" for s in states.values()), "tasks_per_worker": per_worker}
    finally:
        if cluster is not None:
            cluster.stop()
        broker.flushdb()
        for name in databases.values():
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        remove(run_dir)


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
