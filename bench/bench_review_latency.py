"""Seconds from a signed ``pull_request`` webhook to the review on the pull request (issue 14).

    .venv/bin/python bench/bench_review_latency.py [--webhooks 10] [--timeout 300]

The whole platform is started the way ``./autopr run`` starts it
(tests/support/stack.py) on a PostgreSQL database of its own, with the GitHub
stand-in as its ``github_default`` connection.  A small real repository with
findings (tests/support/sample_repo.py) is bound to a project, the Basic
Quality Check template is instantiated, and then one pull request at a time is
opened: the stand-in gets the pull request and its files, and a ``pull_request``
webhook built by the contract's payload builder and signed with the webhook
secret is POSTed to the platform.  For each the clock runs from that POST until
(a) the check run on the head commit is completed and (b) the review with its
inline comments is on the pull request, both read from the stand-in's state.
Pull requests are sent one after the other, so what is measured is latency,
not throughput.  The template starts on ``opened`` (``synchronize`` starts
``pr_updated`` workflows, which this one is not), so every webhook opens a new
pull request of the same change.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

PG_ADMIN_URL = os.environ.get("AUTOPR_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REPOSITORY = "acme/app"
PROJECT = "bench"
WORKFLOW = "bqc"


def _admin_sql(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _private_environment(state: Path, database_url: str) -> None:
    """The platform's own state, database and secrets, set before anything reads settings."""
    os.environ.update({
        "AUTOPR_STATE_DIR": str(state), "AUTOPR_DATABASE_URL": database_url,
        "AUTOPR_JWT_SECRET": secrets.token_urlsafe(48), "AUTOPR_WORKFLOWS_DIR": str(state / "workflows"),
    })


def pr_opened(number: int, repo) -> dict:
    """A ``pull_request`` ``opened`` delivery shaped as GitHub documents it, for the sample repository's change."""
    from tests.contracts.github_openapi import webhook_contract

    owner, name = REPOSITORY.split("/")
    return webhook_contract().payload(
        "pull_request", "opened", number=number,
        pull_request={
            "number": number, "title": f"Change {number}", "user": {"login": "octocat"},
            "head": {"ref": "feature", "sha": repo.bad_sha, "repo": {"full_name": REPOSITORY, "clone_url": repo.url}},
            "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
        },
        repository={"full_name": REPOSITORY, "name": name, "owner": {"login": owner}, "clone_url": repo.url,
                    "default_branch": "main"},
        sender={"login": "octocat"},
    )


def _reached(github, number: int, earlier_runs: set[int]) -> tuple[bool, bool]:
    """(a new check run completed, review with inline comments on pull ``number``) in the stand-in's state.

    Every pull request is the same change, so the check runs on its head commit are told apart by id.
    """
    repo = github.repos[REPOSITORY]
    checked = any(i not in earlier_runs and r["status"] == "completed" for i, r in list(repo.check_runs.items()))
    reviewed = bool(repo.pulls[number].reviews) and any(
        c["pull"] == number for c in list(repo.review_comments.values()))
    return checked, reviewed


def measure_one(client, github, repo, number: int, secret: str, timeout: float) -> tuple[float, float]:
    """Open pull request ``number`` and POST its signed webhook; seconds until the check run and the review."""
    from include.api.routes.webhooks import signature_for

    github.add_pull(REPOSITORY, number, head_sha=repo.bad_sha)
    github.push(REPOSITORY, number, repo.bad_sha, repo.pull_files())
    body = json.dumps(pr_opened(number, repo)).encode()
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
               "Content-Type": "application/json", "X-Hub-Signature-256": signature_for(secret, body)}
    earlier_runs = set(github.repos[REPOSITORY].check_runs)
    started = time.monotonic()
    resp = client.post("/autopr/api/v1/webhooks/github", content=body, headers=headers)
    resp.raise_for_status()
    check_s = review_s = None
    while time.monotonic() - started < timeout:
        checked, reviewed = _reached(github, number, earlier_runs)
        now = time.monotonic() - started
        check_s = check_s if check_s is not None or not checked else now
        review_s = review_s if review_s is not None or not reviewed else now
        if check_s is not None and review_s is not None:
            return check_s, review_s
        time.sleep(0.05)
    raise TimeoutError(f"pull request #{number}: no check run and review after {timeout:.0f} s ({resp.text})")


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) > 1 else ordered[0]
    return f"p50 {statistics.median(ordered):.1f} s, p95 {p95:.1f} s, max {ordered[-1]:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[3:]))
    parser.add_argument("--webhooks", type=int, default=10, help="pull requests opened, one after the other")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one pull request may take")
    parser.add_argument("--executor", choices=["LocalExecutor", "CeleryExecutor"], default="LocalExecutor",
                        help="Airflow executor of the started platform (Celery needs Redis)")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="autopr-bench-latency-"))
    database = f"autopr_bench_{uuid.uuid4().hex[:10]}"
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
    _private_environment(state, database_url)
    _admin_sql(f'CREATE DATABASE "{database}"')
    try:
        run(args, state, database_url)
    finally:
        from include.db.session import reset_engine

        reset_engine()
        _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(state, ignore_errors=True)


def run(args: argparse.Namespace, state: Path, database_url: str) -> None:
    from include.db.migrate import upgrade
    from tests.support.github_standin import GitHubStandIn
    from tests.support.sample_repo import make_repo
    from tests.support.stack import running_platform

    upgrade(database_url)
    repo = make_repo(state / "repo" / "acme-app")
    secret = secrets.token_urlsafe(24)
    with GitHubStandIn() as github:
        github.add_repo(REPOSITORY)
        os.environ["AIRFLOW_CONN_GITHUB_DEFAULT"] = github.connection_uri_json()  # what the tasks call
        print(f"starting the platform ({args.executor}) ...", flush=True)
        began = time.monotonic()
        with running_platform(state / "platform", webhook_secret=secret, airflow_executor=args.executor) as platform:
            print(f"  healthy in {time.monotonic() - began:.0f} s", flush=True)
            with platform.api() as client:
                prepare(client, platform)
                checks, reviews = [], []
                for i in range(args.webhooks):
                    check_s, review_s = measure_one(client, github, repo, 100 + i, secret, args.timeout)
                    checks.append(check_s)
                    reviews.append(review_s)
                    print(f"  #{100 + i}: check run completed {check_s:.1f} s, review with inline comments "
                          f"{review_s:.1f} s", flush=True)
    print(f"webhook -> check run completed: {_summary(checks)}")
    print(f"webhook -> review with inline comments: {_summary(reviews)}")
    print(f"N={args.webhooks}, executor {args.executor}, {os.cpu_count()} cores")


def prepare(client, platform) -> None:
    """A project bound to the repository, with the Basic Quality Check instantiated and its DAG parsed."""
    r = client.post("/autopr/api/v1/projects", json={"slug": PROJECT, "name": "Bench"})
    assert r.status_code == 201, r.text
    r = client.post(f"/autopr/api/v1/projects/{PROJECT}/repositories", json={"full_name": REPOSITORY})
    assert r.status_code == 201, r.text
    template = next(t for t in client.get("/autopr/api/v1/templates").json() if t["name"] == "Basic Quality Check")
    r = client.post(f"/autopr/api/v1/templates/{template['id']}/instantiate", json={"project": PROJECT, "id": WORKFLOW})
    assert r.status_code == 201, r.text
    # instantiated workflows start disabled (no DAG) until enabled
    enabled = client.put(f"/autopr/api/v1/projects/{PROJECT}/workflows/{WORKFLOW}",
                         json={**r.json()["spec"], "enabled": True}, headers={"If-Match": r.headers["ETag"]})
    assert enabled.status_code == 200, enabled.text
    platform.wait_for_dag(r.json()["dag_id"], timeout=180)


if __name__ == "__main__":
    main()
