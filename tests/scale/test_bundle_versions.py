"""Compiled workflows as a versioned DAG bundle: a run executes the version it started on.

The mixed-versions test runs on the session's real platform (``./autopr run``'s
code, with nothing about the bundle configured, so the launcher creates its
local bare repository) and drives it over HTTP: a run of version 1 is held inside its
first task while version 2 is saved and parsed; every task of that run must
still execute version 1 (the nodes, their texts, the DAG version Airflow shows),
and a run started afterwards executes version 2.  Every task reports the
version text compiled into it to a small HTTP server of the test, through a
real Airflow HTTP connection.

The other tests exercise the bundle without Airflow: saves become commits, a
host holding a stale clone cannot move a workflow back to an older version,
and rebuilding from the database in an empty folder gives the same compiled
specs.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.waiting import wait_for

PROBE_CONN = "bundle_probe"
HOLD_WAIT_S = 20  # below the integration action's HTTP timeout: an unreleased hold answers 503 and the task retries


# --- a tiny HTTP server every task of the workflow reports to -----------------------------------------


class Probe:
    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.released = threading.Event()
        self.lock = threading.Lock()
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with probe.lock:
                    probe.calls.append({"path": self.path, **body})
                status = 200
                if self.path == "/hold" and not probe.released.wait(HOLD_WAIT_S):
                    status = 503
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, run_id: str) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c.get("run") == run_id]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()


def versioned_spec(project: str, text: str, extra: bool = False) -> dict:
    """start -> hold -> probe -> tell; ``extra`` adds a node after hold (only version 2 has it)."""
    def call(node_id: str, endpoint: str) -> dict:
        return {"id": node_id, "type": "integration",
                "config": {"connection_id": PROBE_CONN, "method": "POST", "endpoint": endpoint,
                           "body": {"run": "{run_id}", "node": node_id, "spec": text},
                           "retries": 10, "retry_delay_seconds": 1, "exponential_backoff": False,
                           "timeout_seconds": 120}}

    nodes = [
        {"id": "start", "type": "trigger", "config": {"event": "manual"}},
        call("hold", "/hold"),
        call("probe", "/probe"),
        {"id": "tell", "type": "notification", "config": {"channel": "dashboard", "message": f"sent by {text}"}},
    ]
    edges = [{"id": "e1", "source": "start", "target": "hold"}, {"id": "e2", "source": "hold", "target": "probe"},
             {"id": "e3", "source": "probe", "target": "tell"}]
    if extra:
        nodes.append(call("extra", "/probe"))
        edges.append({"id": "e4", "source": "hold", "target": "extra"})
    return {"id": "pinned", "name": "Pinned", "project": project, "nodes": nodes, "edges": edges}



@pytest.fixture(scope="module")
def probe():
    server = Probe()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stack(platform):
    """The session's platform: started like ``./autopr run`` with nothing about the bundle configured."""
    return platform


@pytest.mark.integration
def test_a_run_executes_the_version_it_started_on_while_a_new_run_executes_the_new_one(stack, probe, db):
    from include.workflows.bundle import WorkflowBundle, clone_dir, launcher_url

    token = stack.token()
    api = httpx.Client(base_url=stack.airflow_url + "/autopr", timeout=30, headers={"Authorization": f"Bearer {token}"})
    airflow = stack.api(token)
    project = "bundles"
    assert api.post("/api/v1/projects", json={"slug": project, "name": "Bundles"}).status_code == 201
    r = airflow.post("/api/v2/connections", json={"connection_id": PROBE_CONN, "conn_type": "http",
                                                   "host": "127.0.0.1", "port": probe.port, "schema": "http"})
    assert r.status_code == 201, r.text

    base = f"/api/v1/projects/{project}/workflows"
    r = api.post(base, json=versioned_spec(project, "version 1"))
    assert r.status_code == 201, r.text
    dag_id = r.json()["dag_id"]

    def parsed(version: int):
        dag = airflow.get(f"/api/v2/dags/{dag_id}")
        return dag.status_code == 200 and f"version:{version}" in {t["name"] for t in dag.json()["tags"]}

    wait_for(lambda: parsed(1), 90, what="version 1 parsed by Airflow")

    # Run A starts on version 1 and is held inside its first task.
    r = api.post(f"{base}/pinned/runs", json={})
    assert r.status_code == 201, r.text
    run_a = r.json()["run_id"]
    wait_for(lambda: probe.of(run_a), 90, what="run A's hold task")

    # Version 2 (new texts, one more node) is saved and parsed while run A waits.
    r = api.put(f"{base}/pinned", json=versioned_spec(project, "version 2", extra=True), headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["current_version"] == 2
    # Run C is started the moment version 2 is saved, before Airflow has parsed it: the platform waits for the
    # parse rather than start a run pinned to version 1 that it would record as version 2.
    early = api.post(f"{base}/pinned/runs", json={})
    assert early.status_code == 201, early.text
    run_c = early.json()["run_id"]
    wait_for(lambda: parsed(2), 90, what="version 2 parsed by Airflow")
    r = api.post(f"{base}/pinned/runs", json={})
    assert r.status_code == 201, r.text
    run_b = r.json()["run_id"]
    probe.released.set()

    def finished(run_id: str):
        run = airflow.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}").json()
        return run if run["state"] in ("success", "failed") else None

    a = wait_for(lambda: finished(run_a), 150, every=2, what="run A finished")
    b = wait_for(lambda: finished(run_b), 150, every=2, what="run B finished")
    c = wait_for(lambda: finished(run_c), 150, every=2, what="run C finished")
    assert (a["state"], b["state"], c["state"]) == ("success", "success", "success"), (a, b, c)
    assert {(x["node"], x["spec"]) for x in probe.of(run_c)} == {
        ("hold", "version 2"), ("probe", "version 2"), ("extra", "version 2")}

    # Every task of run A executed version 1; run B executed version 2, with its extra node.
    assert {(c["node"], c["spec"]) for c in probe.of(run_a)} == {("hold", "version 1"), ("probe", "version 1")}
    assert {(c["node"], c["spec"]) for c in probe.of(run_b)} == {
        ("hold", "version 2"), ("probe", "version 2"), ("extra", "version 2")}

    def tasks(run_id: str) -> dict[str, str]:
        tis = airflow.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances").json()
        return {t["task_id"]: t["state"] for t in tis["task_instances"]}

    assert tasks(run_a) == dict.fromkeys(["start", "hold", "probe", "tell"], "success")
    assert tasks(run_b) == dict.fromkeys(["start", "hold", "probe", "tell", "extra"], "success")

    def told(run_id: str) -> str:
        url = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/tell/xcomEntries/return_value"
        value = airflow.get(url, params={"deserialize": True}).json()["value"]
        return (json.loads(value) if isinstance(value, str) else value)["message"]

    assert (told(run_a), told(run_b)) == ("sent by version 1", "sent by version 2")

    # The run records the workflow version (conf) and the bundle version (a commit naming that version).
    assert (a["conf"]["workflow_version"], b["conf"]["workflow_version"]) == (1, 2)
    assert a["bundle_version"] and b["bundle_version"] and a["bundle_version"] != b["bundle_version"]
    commits = dict(WorkflowBundle(launcher_url(stack.settings), clone_dir(stack.settings)).log())
    assert f"{project}/pinned version 1" in commits[a["bundle_version"]]
    assert f"{project}/pinned version 2" in commits[b["bundle_version"]]

    # Airflow's DAG version of each run is that commit, and its Code tab shows that workflow version.
    versions = airflow.get(f"/api/v2/dags/{dag_id}/dagVersions").json()["dag_versions"]
    for run, wanted in ((a, "version 1"), (b, "version 2")):
        (dag_version,) = [v for v in versions if v["bundle_version"] == run["bundle_version"]]
        assert dag_version["bundle_name"] == "autopr-workflows"
        assert [v["version_number"] for v in run["dag_versions"]] == [dag_version["version_number"]]
        code = airflow.get(f"/api/v2/dagSources/{dag_id}", params={"version_number": dag_version["version_number"]})
        assert f"AutoPR workflow {project}/pinned, {wanted}." in code.json()["content"]
    api.close()
    airflow.close()


# --- the bundle without Airflow ------------------------------------------------------------------------


def small_spec(project: str, wf_id: str, text: str = "hello", enabled: bool = True) -> dict:
    return {"id": wf_id, "name": wf_id.title(), "project": project, "enabled": enabled,
            "nodes": [{"id": "start", "type": "trigger", "config": {"event": "manual"}},
                      {"id": "tell", "type": "notification", "config": {"channel": "dashboard", "message": text}}],
            "edges": [{"id": "e1", "source": "start", "target": "tell"}]}


@pytest.fixture()
def host_a(db, tmp_path, monkeypatch):
    """This process as one platform host saving into a bundle (the launcher sets the same variable)."""
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_WORKFLOWS_BUNDLE_URL", (tmp_path / "shared.git").as_uri())
    monkeypatch.setenv("AUTOPR_STATE_DIR", str(tmp_path / "host-a"))
    monkeypatch.setenv("AUTOPR_WORKFLOWS_DIR", str(tmp_path / "unused-workflows-dir"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def tree(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.suffix in (".json", ".py")}


def save_history(user: str = "ed") -> None:
    """Saves, a new version, a disable and a delete: what the bundle must end up mirroring."""
    from include.db.models import Project
    from include.db.session import session_scope
    from include.workflows import service

    with session_scope() as session:
        session.add(Project(slug="acme", name="Acme"))
    for wf_id in ("one", "two", "three", "four"):
        with session_scope() as session:
            service.create_workflow(session, small_spec("acme", wf_id), user)
    with session_scope() as session:
        service.update_workflow(session, "acme", "one", small_spec("acme", "one", "second text"), user)
    with session_scope() as session:
        service.update_workflow(session, "acme", "three", small_spec("acme", "three", enabled=False), user)
    with session_scope() as session:
        service.delete_workflow(session, "acme", "four", user)


def test_each_save_is_a_commit_naming_the_version_and_the_bundle_mirrors_the_database(host_a):
    from include.workflows.bundle import WorkflowBundle

    save_history()
    bundle = WorkflowBundle.from_settings(host_a)
    assert sorted(tree(bundle.clone)) == ["acme__one.json", "acme__one.py", "acme__two.json", "acme__two.py"]
    assert json.loads((bundle.clone / "acme__one.json").read_text())["version"] == 2
    assert "AutoPR workflow acme/one, version 2." in (bundle.clone / "acme__one.py").read_text()
    subjects = [subject for _commit, subject in bundle.log()]
    assert subjects[:6] == ["acme/four removed (deleted or disabled)", "acme/three removed (deleted or disabled)",
                            "acme/one version 2", "acme/four version 1", "acme/three version 1", "acme/two version 1"]
    assert not host_a.workflows_dir.exists() or not any(host_a.workflows_dir.iterdir())


def test_a_late_publish_on_a_stale_host_never_moves_a_workflow_back(host_a, tmp_path):
    from include.db.models import Project
    from include.db.session import session_scope
    from include.workflows import service
    from include.workflows.bundle import WorkflowBundle, clone_dir, publish_workflows

    host_b = host_a.model_copy(update={"state_dir": tmp_path / "host-b"})
    with session_scope() as session:
        session.add(Project(slug="acme", name="Acme"))
    with session_scope() as session:
        service.create_workflow(session, small_spec("acme", "one"), "ed")
    stale = WorkflowBundle(host_b.workflows_bundle_url, clone_dir(host_b))
    stale.ensure()  # host B's clone still shows version 1
    with session_scope() as session:
        service.update_workflow(session, "acme", "one", small_spec("acme", "one", "second text"), "ed")
    newest = WorkflowBundle.from_settings(host_a).head()
    # Host B's publish for the version 1 save runs only now: it commits what the database holds, after fetching.
    assert publish_workflows([("acme", "one")], settings=host_b)
    assert stale.head() == newest  # nothing differed, so nothing was committed
    assert json.loads((stale.clone / "acme__one.json").read_text())["version"] == 2


def test_rebuilding_from_the_database_on_an_empty_folder_gives_the_same_compiled_specs(host_a, tmp_path):
    from include.workflows.bundle import WorkflowBundle, compile_from_database, rebuild_from_database

    save_history()
    built_by_saves = tree(WorkflowBundle.from_settings(host_a).clone)

    assert compile_from_database(tmp_path / "empty") == ["acme__one", "acme__two"]
    assert tree(tmp_path / "empty") == built_by_saves

    # A fresh host with a new, empty repository: one commit holds every enabled workflow.
    fresh = host_a.model_copy(update={"workflows_bundle_url": (tmp_path / "fresh.git").as_uri(),
                                      "state_dir": tmp_path / "host-c"})
    commit = rebuild_from_database(fresh)
    rebuilt = WorkflowBundle.from_settings(fresh)
    assert rebuilt.head() == commit and tree(rebuilt.clone) == built_by_saves
    assert rebuild_from_database(fresh) == commit  # nothing differs: no new commit

    # Any host reads the bundle from the shared repository alone.
    reader = WorkflowBundle(host_a.workflows_bundle_url, tmp_path / "host-d" / "clone")
    reader.ensure()
    assert tree(reader.clone) == built_by_saves


def test_the_launcher_configures_both_bundles_and_the_dag_folder_loader_steps_aside(db, tmp_path, monkeypatch):
    from include.dag_factory.loader import load_external_workflows
    from include.launcher.airflow_env import airflow_env
    from include.settings import load_settings

    settings = load_settings(state_dir=tmp_path / "state", workflows_dir=tmp_path / "workflows")
    env = airflow_env(settings, base={})
    url = env["AUTOPR_WORKFLOWS_BUNDLE_URL"]
    assert url == (tmp_path / "state" / "workflows-bundle" / "remote.git").as_uri()
    bundles = {b["name"]: b for b in json.loads(env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])}
    assert bundles["dags-folder"]["classpath"].endswith("LocalDagBundle")
    assert bundles["autopr-workflows"]["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert bundles["autopr-workflows"]["kwargs"]["repo_url"] == url
    assert env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"].startswith(str(tmp_path / "state"))
    # A deployment's own AIRFLOW__ value still wins.
    assert airflow_env(settings, base={"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": "[]"})[
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] == "[]"
    assert "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST" not in airflow_env(
        load_settings(state_dir=tmp_path / "off", workflows_bundle_url="none"), base={})

    from include.workflows.compiler import compile_workflow

    compile_workflow(small_spec("acme", "outside"), tmp_path / "workflows")
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    assert load_external_workflows(tmp_path / "workflows", tmp_path / "dags") == {}
    monkeypatch.delenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST")
    assert list(load_external_workflows(tmp_path / "workflows", tmp_path / "dags")) == ["autopr__acme__outside"]
