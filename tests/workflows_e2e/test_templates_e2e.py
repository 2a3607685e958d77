"""The three built-in templates run end to end with dag.test().

Real parts all the way: a real local git repository with real findings, the
real analysers, Airflow running the compiled DAG in-process (metadata DB
migrated for real), the review session and notifications landing in the app
PostgreSQL database, and every code-host call going over HTTP to the local
GitHub stand-in, which checks each request's shape.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from include.db.models import ExecutionEvent, ReviewIssue, ReviewSession
from include.db.session import session_scope

TEMPLATES = Path(__file__).resolve().parents[2] / "include" / "workflows" / "templates"


def _dag(template: str, project: str):
    """Compile the template into the workflows dir the way the store does, and load it back from there.

    ``dag.test()`` syncs the DAG folder to the metadata DB first; ``dags/workflow_loader.py``
    builds this DAG from the compiled spec during that sync, as the DAG processor would.
    """
    from include.dag_factory.dag_builder import build_dag_from_file
    from include.workflows.compiler import compile_workflow

    spec = yaml.safe_load((TEMPLATES / f"{template}.yaml").read_text())["workflow"]
    assert spec["enabled"] is False  # templates ship disabled; the user enables the workflow once tried
    spec.update(project=project, enabled=True)
    return build_dag_from_file(compile_workflow(spec))


def _assert_outputs_as_declared(dag_run, template: str) -> None:
    """Every node that ran handed on exactly the outputs its config model declares (``OUTPUTS``).

    Outputs described "only ..." are optional (present with some settings); every other
    declared output must be there, and nothing undeclared may be.
    """
    from include.workflows.model import Workflow
    from include.workflows.nodes import outputs_of

    spec = yaml.safe_load((TEMPLATES / f"{template}.yaml").read_text())["workflow"]
    nodes = {n.id: n for n in Workflow.model_validate(spec).nodes}
    checked = 0
    for ti in dag_run.get_task_instances():
        if str(getattr(ti.state, "value", ti.state)) != "success":
            continue
        node = nodes[ti.task_id]
        key = "outputs" if node.type == "condition" else "return_value"
        actual = ti.xcom_pull(task_ids=ti.task_id, key=key)
        declared = outputs_of(node.type, node.config.model_dump())
        required = {name for name, what in declared.items() if not what.startswith("only ")}
        assert isinstance(actual, dict), (ti.task_id, actual)
        assert required <= set(actual) <= set(declared), (ti.task_id, sorted(actual), sorted(declared))
        checked += 1
    assert checked >= 4


def _event(repo, sha, kind):
    return {
        "kind": kind,
        "repository": "acme/app",
        "clone_url": repo.url,
        "sha": sha,
        "ref": "feature",
        "base_ref": "main",
        "pr_number": 7,
        "author": "octocat",
    }


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def _sessions():
    with session_scope() as session:
        rows = session.scalars(select(ReviewSession).order_by(ReviewSession.id)).all()
        return [
            (
                r,
                [
                    (i.rule, i.severity.value)
                    for i in session.scalars(select(ReviewIssue).where(ReviewIssue.session_id == r.id))
                ],
            )
            for r in rows
        ]


def _relay_outbox_into_db() -> None:
    """Run the sidecar's relay until the events outbox is drained (persist, then publish)."""
    import asyncio

    from include.events.outbox import get_outbox
    from include.events.relay import run_relay

    async def drain() -> None:
        outbox, stop = get_outbox(), asyncio.Event()

        async def publish(_wire: dict) -> None:
            return None

        relay = asyncio.create_task(run_relay(publish, stop=stop, outbox=outbox, block_ms=100))
        for _ in range(300):
            await asyncio.sleep(0.1)
            if outbox.backlog() == 0:
                break
        stop.set()
        await asyncio.wait_for(relay, timeout=30)

    asyncio.run(drain())


def _notifications(dag_id: str, *runs) -> list:
    """The dashboard notifications of these runs of this DAG (the session-wide outbox may hold other tests' events,
    also of a DAG with the same id that an earlier test ran)."""
    _relay_outbox_into_db()
    with session_scope() as session:
        return session.scalars(select(ExecutionEvent).where(
            ExecutionEvent.event_type == "notification", ExecutionEvent.dag_id == dag_id,
            ExecutionEvent.run_id.in_([dr.run_id for dr in runs]))).all()


def test_basic_quality_check(airflow_db, project, github, git_repo):
    github.add_pull("acme/app", 7, head_sha=git_repo.bad_sha)
    github.push("acme/app", 7, git_repo.bad_sha, git_repo.pull_files())
    dag = _dag("basic_quality_check", project)
    dr = dag.test(run_conf={"event": _event(git_repo, git_repo.bad_sha, "pr_opened")})

    states = _states(dr)
    assert str(getattr(dr.state, "value", dr.state)) == "success", states
    assert states["quality"] == "success" and states["publish"] == "success" and states["gate"] == "success"
    assert states["label_needs_work"] == "success" and states["notify"] == "success"

    [(review, issues)] = _sessions()
    assert (review.repository, review.commit_sha, review.pr_number) == ("acme/app", git_repo.bad_sha, 7)
    assert review.dag_id == dag.dag_id and review.run_id == dr.run_id
    assert ("B602", "critical") in issues and ("B307", "high") in issues

    # the review: comments on the lines the pull request added, on its head commit
    [posted] = github.calls("POST", r"/repos/acme/app/pulls/7/reviews", status=200)
    assert posted.body["commit_id"] == git_repo.bad_sha
    added = {(c["path"], c["line"]) for c in posted.body["comments"]}
    bad_lines = set(range(1, len(git_repo.pull_files()["app/bad.py"].splitlines())))
    assert added and {path for path, _ in added} == {"app/bad.py"} and {line for _, line in added} <= bad_lines
    assert any("B602" in c["body"] for c in posted.body["comments"])
    assert sorted((c["path"], c["line"]) for c in github.repos["acme/app"].review_comments.values()) == sorted(added)
    # the check run on the head commit, its annotations complete, failed by the critical finding
    [run] = github.repos["acme/app"].check_runs.values()
    assert (run["head_sha"], run["status"], run["conclusion"]) == (git_repo.bad_sha, "completed", "failure")
    assert {a["path"] for a in run["annotations"]} >= {"app/bad.py"} and len(run["annotations"]) == len(issues)
    # one summary comment, no plain comment besides it; the gate's label as before
    [summary] = github.repos["acme/app"].issues[7].comments
    assert summary["body"].startswith("<!-- autopr:summary acme/basic-quality-check -->") and "failed" in summary["body"]
    assert github.repos["acme/app"].issues[7].labels == ["needs-work"]
    assert all(r.status < 400 for r in github.requests)

    [note] = _notifications(dag.dag_id, dr)
    assert note.state == "info" and note.project == "acme" and "acme/app#7" in note.payload["message"]
    _assert_outputs_as_declared(dr, "basic_quality_check")


RISKY_LOADS_PY = (
    "import pickle\n"
    "import yaml\n"
    "\n"
    "\n"
    "def load(blob: bytes, text: str):\n"
    "    return pickle.loads(blob), yaml.load(text)\n"
)


def _git(cwd: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-c", "user.email=dev@example.com", "-c", "user.name=Dev", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_basic_quality_check_fails_a_change_with_high_severity_findings(airflow_db, project, github, tmp_path):
    """A small change whose only findings are two high-severity ones (pickle.loads, yaml.load) scores
    above the threshold; the gate must still fail it (it used to pass it: score >= 70)."""
    repo = tmp_path / "acme-app"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "clean.py").write_text('def add(a: int, b: int) -> int:\n    """Add."""\n    return a + b\n')
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "clean start")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "loads.py").write_text(RISKY_LOADS_PY)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "load blobs")
    sha = _git(repo, "rev-parse", "HEAD")
    patch = "@@ -0,0 +1,6 @@\n" + "".join(f"+{line}\n" for line in RISKY_LOADS_PY.splitlines())
    github.add_pull("acme/app", 7, head_sha=sha)
    github.push("acme/app", 7, sha, {"loads.py": patch})

    dag = _dag("basic_quality_check", project)
    event = {"kind": "pr_opened", "repository": "acme/app", "clone_url": repo.as_uri(), "sha": sha, "ref": "feature",
             "base_ref": "main", "pr_number": 7, "author": "octocat"}
    dr = dag.test(run_conf={"event": event})

    states = _states(dr)
    assert str(getattr(dr.state, "value", dr.state)) == "success", states
    [(review, issues)] = _sessions()
    assert sorted(sev for _rule, sev in issues if sev in ("high", "critical")) == ["high", "high"], issues
    assert review.stats["quality_score"] >= 70  # the score alone would have let it through
    outputs = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert outputs["quality"].xcom_pull(task_ids="quality", key="return_value")["errors_count"] == 2
    assert outputs["gate"].xcom_pull(task_ids="gate", key="outputs") == {"result": False}
    assert states["label_needs_work"] == "success"  # the false branch: below the bar
    assert github.repos["acme/app"].issues[7].labels == ["needs-work"]
    [run] = github.repos["acme/app"].check_runs.values()
    assert run["conclusion"] == "failure"


def test_pr_review_automation(airflow_db, project, github, git_repo):
    github.add_pull("acme/app", 7, head_sha=git_repo.bad_sha, labels=["autopr-clean"])
    dag = _dag("pr_review_automation", project)
    dr = dag.test(run_conf={"event": _event(git_repo, git_repo.bad_sha, "pr_updated")})

    states = _states(dr)
    assert str(getattr(dr.state, "value", dr.state)) == "success", states
    assert states["review"] == "success" and states["comment_findings"] == "success"
    assert states["label_clean"] == "skipped" and states["notify"] == "success"
    _assert_outputs_as_declared(dr, "pr_review_automation")

    [(review, issues)] = _sessions()
    assert review.commit_sha == git_repo.bad_sha and ("B602", "critical") in issues
    [comment] = github.calls("POST", r"/repos/acme/app/issues/7/comments", status=201)
    assert "critical" in comment.body["body"] and "{" not in comment.body["body"].split("\n")[0]
    assert github.repos["acme/app"].issues[7].labels == ["changes-requested"]  # autopr-clean removed
    assert _notifications(dag.dag_id, dr)[0].payload["message"].startswith("Reviewed acme/app#7")


def test_ci_cd_pipeline_merges_a_clean_change_and_blocks_a_risky_one(airflow_db, project, github, git_repo):
    dag = _dag("ci_cd_pipeline", project)

    github.add_pull("acme/app", 7, head_sha=git_repo.first_sha)
    clean = dag.test(run_conf={"event": _event(git_repo, git_repo.first_sha, "pr_updated")})
    states = _states(clean)
    assert str(getattr(clean.state, "value", clean.state)) == "success", states
    assert states["merge"] == "success" and states["comment_blocked"] == "skipped"
    # it merged only after reading its required check: the "AutoPR review" run it created, succeeded
    [check] = [r for r in github.repos["acme/app"].check_runs.values() if r["head_sha"] == git_repo.first_sha]
    assert (check["name"], check["conclusion"]) == ("AutoPR review", "success")
    assert github.calls("GET", rf"/repos/acme/app/commits/{git_repo.first_sha}/check-runs(\?.*)?", status=200)
    [merge] = github.calls("PUT", r"/repos/acme/app/pulls/7/merge", status=200)
    assert merge.body == {"merge_method": "squash", "sha": git_repo.first_sha}
    assert github.repos["acme/app"].pulls[7].merged
    _assert_outputs_as_declared(clean, "ci_cd_pipeline")

    github.add_pull("acme/app", 8, head_sha=git_repo.bad_sha)
    github.push("acme/app", 8, git_repo.bad_sha, git_repo.pull_files())
    risky = dag.test(run_conf={"event": {**_event(git_repo, git_repo.bad_sha, "pr_updated"), "pr_number": 8}})
    states = _states(risky)
    assert str(getattr(risky.state, "value", risky.state)) == "success", states
    assert states["merge"] == "skipped" and states["comment_blocked"] == "success"
    assert not github.repos["acme/app"].pulls[8].merged
    assert github.repos["acme/app"].issues[8].labels == ["blocked"]
    [check] = [r for r in github.repos["acme/app"].check_runs.values() if r["head_sha"] == git_repo.bad_sha]
    assert check["conclusion"] == "failure"
    stats = [s.stats for s, _ in _sessions()]
    assert [s["passed"] for s in stats] == [True, False]
    assert {n.state for n in _notifications(dag.dag_id, clean, risky)} == {"info", "error"}
