"""The compiled-workflow bundle: one git repository every host reads, one commit per save.

Why git: with compiled files in a plain folder (a ``LocalDagBundle``), every
task loads whatever file is on disk when it starts, so a run started on
version 1 of a workflow ran version 2's tasks once version 2 was saved, while
Airflow showed it under DAG version 1; and the files existed only on the host
that handled the save.  Airflow 3's ``GitDagBundle`` (apache-airflow-providers-git)
records the bundle version (a commit) on every DAG run, and every task of the
run executes from a checkout of that commit; the DAG processor and workers of
any host clone the same repository.

Layout: the repository (``workflows_bundle_url``; for ``./autopr run`` without
one, a bare repository under the state dir, the one-machine stand-in for a
shared git server) holds the compiler's ``<project>__<id>.json`` and ``.py``
files at its root.  Each host commits in a working clone under its own state
dir and pushes; Airflow's bundle named :data:`BUNDLE_NAME` fetches the branch.

The repository follows the database, not the caller: after a save commits,
:func:`publish_workflows` fetches, then reads each saved workflow's *current*
state from the database and commits that.  Reading after fetching means a host
that pushes late (a rejected push is retried on top of the other host's
commit) can never move a workflow back to an older version.
:func:`rebuild_from_database` writes every enabled workflow again: a new bundle
is filled that way when the platform starts, and ``python -m
include.workflows.bundle rebuild`` catches a bundle up after a failed push.

Processes without a bundle URL (tests using ``dag.test()``, scripts) keep
compiling into ``workflows_dir`` (:mod:`include.workflows.compiler`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from include.settings import REPO_ROOT, Settings, get_settings

log = logging.getLogger(__name__)

BUNDLE_NAME = "autopr-workflows"
DISABLED = "none"
GIT_BUNDLE_CLASS = "airflow.providers.git.bundles.git.GitDagBundle"
LOCAL_BUNDLE_CLASS = "airflow.dag_processing.bundles.local.LocalDagBundle"
# Platform commits carry their own identity: a fresh machine often has no git user configured.
_IDENTITY = ("-c", "user.name=AutoPR Platform", "-c", "user.email=autopr@localhost", "-c", "commit.gpgsign=false")
PUSH_ATTEMPTS = 8
README = """# AutoPR compiled workflows

Written by the AutoPR platform: one commit per workflow save, from the
platform's database.  Airflow reads this repository as its DAG bundle
`autopr-workflows` and pins every DAG run to the commit it started on.

Do not edit: change workflows in the platform (API, editor).  To rewrite every
workflow from the database: `python -m include.workflows.bundle rebuild`.
"""


class BundleError(RuntimeError):
    """A git operation on the workflow bundle failed; the message carries git's own words."""


# --- where the bundle is ------------------------------------------------------------------------------


def configured_url(settings: Settings | None = None) -> str | None:
    """The bundle this process publishes saves to; None: compile into ``workflows_dir`` instead."""
    url = (settings or get_settings()).workflows_bundle_url.strip()
    return None if not url or url.lower() == DISABLED else url


def launcher_url(settings: Settings) -> str | None:
    """The bundle ``./autopr run`` configures: the setting, else a bare repository in the state dir."""
    url = settings.workflows_bundle_url.strip()
    if url.lower() == DISABLED:
        return None
    return url or (settings.state_dir / "workflows-bundle" / "remote.git").as_uri()


def clone_dir(settings: Settings) -> Path:
    """This host's working clone (commits are made here and pushed)."""
    return settings.state_dir / "workflows-bundle" / "clone"


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if url.startswith("/"):
        return Path(url)
    return None


# --- the repository -------------------------------------------------------------------------------------


class WorkflowBundle:
    """A working clone of the bundle repository; every method holds the clone's lock (processes, threads)."""

    def __init__(self, url: str, clone: Path, branch: str = "main"):
        self.url, self.clone, self.branch = url, Path(clone), branch

    @classmethod
    def from_settings(cls, settings: Settings | None = None, url: str | None = None) -> WorkflowBundle:
        settings = settings or get_settings()
        url = url or configured_url(settings) or launcher_url(settings)
        if url is None:
            raise BundleError("the workflow bundle is disabled (AUTOPR_WORKFLOWS_BUNDLE_URL=none)")
        return cls(url, clone_dir(settings), settings.workflows_bundle_branch)

    def _git(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX"))}
        env["GIT_TERMINAL_PROMPT"] = "0"
        result = subprocess.run(["git", *args], cwd=cwd or self.clone, env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        if check and result.returncode != 0:
            shown = " ".join(a for a in args if not a.startswith("user."))
            raise BundleError(f"git {shown} failed in {cwd or self.clone}: {(result.stderr or result.stdout).strip()}")
        return result

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.clone.parent.mkdir(parents=True, exist_ok=True)
        with open(self.clone.parent / f"{self.clone.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def head(self) -> str:
        return self._git("rev-parse", "HEAD").stdout.strip()

    def ensure(self, fill: Callable[[Path], int] | None = None) -> bool:
        """Create what is missing (a local bare repository, the clone, the branch); True if the branch is new.

        A new branch's first commit holds a README and whatever ``fill`` writes
        (every workflow in the database), so a bundle is never published half
        built: if ``fill`` fails nothing is pushed and the next call tries again.
        """
        with self._locked():
            return self._ensure(fill)

    def _ensure(self, fill: Callable[[Path], int] | None = None) -> bool:
        local = _local_path(self.url)
        if local is not None and not (local / "HEAD").exists():
            local.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", "--bare", f"--initial-branch={self.branch}", str(local), cwd=local)
        if not (self.clone / ".git").is_dir():
            if self.clone.exists():
                shutil.rmtree(self.clone)
            self._git("clone", "--quiet", self.url, str(self.clone), cwd=self.clone.parent)
        else:
            self._git("remote", "set-url", "origin", self.url)
        if self._git("ls-remote", "--heads", "origin", f"refs/heads/{self.branch}").stdout.strip():
            return False
        self._git("checkout", "--quiet", "--orphan", f"{self.branch}-new")
        self._git("rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".")
        self._git("clean", "--quiet", "-fdx")
        (self.clone / "README.md").write_text(README, encoding="utf-8")
        count = fill(self.clone) if fill is not None else 0
        self._git("add", "--all", ".")
        message = f"bundle created from the database: {count} workflow(s)" if fill is not None else "bundle created"
        self._git(*_IDENTITY, "commit", "--quiet", "-m", message)
        pushed = self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", check=False)
        created = pushed.returncode == 0
        if not created:  # another host created the branch first: use theirs
            log.info("workflow bundle branch %s was created concurrently: %s", self.branch, pushed.stderr.strip())
        self._sync()
        return created

    def _sync(self) -> None:
        """Make the clone exactly the remote branch (the clone never holds work of its own)."""
        b = self.branch
        self._git("fetch", "--quiet", "origin", f"+refs/heads/{b}:refs/remotes/origin/{b}")
        self._git("checkout", "--quiet", "--force", "-B", b, f"origin/{b}")
        self._git("clean", "--quiet", "-fdx")

    def publish(self, change: Callable[[Path], str | None]) -> str:
        """Apply ``change`` to the fetched branch, commit and push; returns the branch's commit.

        ``change`` writes into the clone and returns the commit message (None:
        nothing to commit).  When another host pushed first, the clone is reset
        to its commit and ``change`` runs again, so it must derive what it
        writes from the database, never from what it wrote before.
        """
        with self._locked():
            if not (self.clone / ".git").is_dir():
                self._ensure()
            last = ""
            for _attempt in range(PUSH_ATTEMPTS):
                self._sync()
                message = change(self.clone)
                self._git("add", "--all", ".")
                if message is None or self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
                    return self.head()
                self._git(*_IDENTITY, "commit", "--quiet", "-m", message)
                pushed = self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", check=False)
                if pushed.returncode == 0:
                    return self.head()
                last = (pushed.stderr or pushed.stdout).strip()
                log.info("workflow bundle push rejected, retrying on top of the remote: %s", last)
            raise BundleError(f"could not push to the workflow bundle {self.url} after {PUSH_ATTEMPTS} attempts: {last}")

    def log(self, limit: int = 50) -> list[tuple[str, str]]:
        """(commit, subject) of the branch, newest first."""
        with self._locked():
            out = self._git("log", f"-{limit}", "--format=%H%x09%s", f"origin/{self.branch}").stdout
        return [tuple(line.split("\t", 1)) for line in out.splitlines() if "\t" in line]  # type: ignore[misc]


# --- contents: the database's enabled workflows ---------------------------------------------------------


def live_specs(session: Any, keys: Iterable[tuple[str, str]] | None = None) -> dict[tuple[str, str], dict]:
    """{(project, workflow id): current spec} of enabled, not deleted workflows (only ``keys`` when given)."""
    from sqlalchemy import and_, or_, select

    from include.db import models as m

    stmt = (
        select(m.Project.slug, m.Workflow.slug, m.WorkflowVersion.spec)
        .join(m.Workflow, m.Workflow.project_id == m.Project.id)
        .join(m.WorkflowVersion, and_(m.WorkflowVersion.workflow_id == m.Workflow.id,
                                      m.WorkflowVersion.version == m.Workflow.current_version))
        .where(m.Workflow.deleted_at.is_(None), m.Workflow.enabled.is_(True))
    )
    if keys is not None:
        keys = list(keys)
        if not keys:
            return {}
        stmt = stmt.where(or_(*(and_(m.Project.slug == p, m.Workflow.slug == w) for p, w in keys)))
    return {(p, w): spec for p, w, spec in session.execute(stmt) if spec.get("enabled", True)}


def _write_spec(dest: Path, project: str, workflow_id: str, spec: dict) -> None:
    """Compile one stored spec; one that no longer validates is written as stored, so Airflow names it."""
    from include.workflows.compiler import compile_workflow, write_compiled
    from include.workflows.validation import WorkflowInvalid

    try:
        compile_workflow(spec, dest)
    except WorkflowInvalid as exc:
        log.warning("workflow %s/%s no longer validates; Airflow will report it: %s", project, workflow_id, exc)
        write_compiled(project, workflow_id, json.dumps(spec, indent=2, ensure_ascii=False) + "\n",
                       spec.get("version"), dest)


def _engine(engine: Any = None, settings: Settings | None = None) -> Any:
    if engine is not None:
        return engine
    from include.db.session import get_engine

    return get_engine((settings or get_settings()).database_url)


def _read_live(engine: Any, keys: Iterable[tuple[str, str]] | None = None) -> dict[tuple[str, str], dict]:
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    if not inspect(engine).has_table("workflows"):  # a database not migrated yet holds no workflows
        return {}
    with Session(engine) as session:
        return live_specs(session, keys)


def compile_from_database(dest_dir: str | Path, engine: Any = None) -> list[str]:
    """Make ``dest_dir`` hold exactly the compiled files of every enabled workflow; returns their names."""
    from include.workflows.compiler import compiled_name, compiled_names, remove_compiled

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    live = _read_live(_engine(engine))
    wanted = {compiled_name(p, w): (p, w) for p, w in live}
    for name in compiled_names(dest) - set(wanted):
        project, _, workflow_id = name.partition("__")
        remove_compiled(project, workflow_id, dest)
    for (project, workflow_id), spec in sorted(live.items()):
        _write_spec(dest, project, workflow_id, spec)
    return sorted(wanted)


def rebuild_from_database(settings: Settings | None = None, engine: Any = None) -> str:
    """Rewrite the bundle from the database (one commit when anything differs); returns the branch's commit."""
    settings = settings or get_settings()
    bundle = WorkflowBundle.from_settings(settings)
    if bundle.ensure(lambda dest: len(compile_from_database(dest, _engine(engine, settings)))):
        return bundle.head()

    def change(dest: Path) -> str:
        names = compile_from_database(dest, _engine(engine, settings))
        return f"rebuild from the database: {len(names)} workflow(s)"

    return bundle.publish(change)


def _write_current(dest: Path, keys: list[tuple[str, str]], engine: Any) -> list[str]:
    """Write (or remove) these workflows' compiled files in ``dest`` as the database holds them now."""
    from include.workflows.compiler import remove_compiled

    live = _read_live(engine, keys)
    parts = []
    for project, workflow_id in keys:
        spec = live.get((project, workflow_id))
        if spec is None:
            remove_compiled(project, workflow_id, dest)
            parts.append(f"{project}/{workflow_id} removed (deleted or disabled)")
        else:
            _write_spec(dest, project, workflow_id, spec)
            parts.append(f"{project}/{workflow_id} version {spec.get('version')}")
    return parts


def publish_workflows(keys: Iterable[tuple[str, str]], engine: Any = None, settings: Settings | None = None) -> str:
    """Commit the database's current state of these workflows (compiled, or removed) and push it."""
    keys = list(dict.fromkeys(keys))
    bundle = WorkflowBundle.from_settings(settings)
    return bundle.publish(lambda dest: "; ".join(_write_current(dest, keys, _engine(engine, settings))))


def publish_saved(keys: Iterable[tuple[str, str]], engine: Any) -> None:
    """Make the compiled files of just-committed workflows follow the database (the save service's last write).

    With a bundle: one commit of the bundle.  The save is committed already, so
    a failure to publish is logged, not raised: the database stays the source
    of truth, and the workflow's next save, or ``python -m
    include.workflows.bundle rebuild``, brings the bundle up to date.  Without
    one, the files are written into ``workflows_dir`` (an error there is the
    caller's to see: nothing retries it).
    """
    keys = list(dict.fromkeys(keys))
    if configured_url() is None:
        _write_current(get_settings().workflows_dir, keys, engine)
        return
    try:
        commit = publish_workflows(keys, engine)
    except Exception:  # the caller's transaction is committed; raising cannot undo it
        log.exception("workflow bundle: publishing %s failed; the bundle is behind the database until the next "
                      "save or `python -m include.workflows.bundle rebuild`", ", ".join("/".join(k) for k in keys))
        return
    log.info("workflow bundle: %s published as %s", ", ".join("/".join(k) for k in keys), commit[:12])


# --- what Airflow is told ---------------------------------------------------------------------------------


def _remove_compiled_from_dag_folder(settings: Settings) -> None:
    """Drop compiled files an unbundled run left in the DAG folder, or Airflow would see each workflow twice.

    They are generated, git-ignored copies of database content, which the
    bundle holds now.
    """
    from include.workflows.compiler import compiled_names, remove_compiled

    folder = settings.workflows_dir.expanduser().resolve()
    dags = (REPO_ROOT / "dags").resolve()
    if folder != dags and dags not in folder.parents:
        return
    for name in compiled_names(folder):
        project, _, workflow_id = name.partition("__")
        remove_compiled(project, workflow_id, folder)
        log.info("removed %s from %s: compiled workflows live in the %s bundle", name, folder, BUNDLE_NAME)


def bundle_config(settings: Settings, url: str) -> list[dict[str, Any]]:
    """Airflow's ``[dag_processor] dag_bundle_config_list``: the repo's dags/ folder and the workflow bundle."""
    return [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE_CLASS, "kwargs": {}},
        {"name": BUNDLE_NAME, "classpath": GIT_BUNDLE_CLASS,
         "kwargs": {"repo_url": url, "tracking_ref": settings.workflows_bundle_branch,
                    "refresh_interval": settings.workflows_bundle_refresh_seconds}},
    ]


def prepare_bundle(settings: Settings) -> None:
    """The init step's part: create what is missing (a local bare repository, this host's clone) and fill a
    brand-new bundle from the database before any Airflow component reads it; drop stale compiled files.

    Once per start, not per process: saves create their clone themselves when it is missing (``publish``).
    """
    url = launcher_url(settings)
    if url is None:
        return
    bundle = WorkflowBundle(url, clone_dir(settings), settings.workflows_bundle_branch)
    if bundle.ensure(lambda dest: len(compile_from_database(dest, _engine(None, settings)))):
        log.info("workflow bundle %s created from the database", url)
    _remove_compiled_from_dag_folder(settings)


def airflow_bundle_env(settings: Settings) -> dict[str, str]:
    """Environment of every platform process: Airflow's bundle list, and the URL saves are pushed to.

    Only derives variables (health probes and every role call it); :func:`prepare_bundle` creates the bundle.
    ``AUTOPR_WORKFLOWS_BUNDLE_URL=none``: nothing (the DAG folder's ``workflows_dir`` as before).
    """
    url = launcher_url(settings)
    if url is None:
        return {}
    return {
        "AUTOPR_WORKFLOWS_BUNDLE_URL": url,
        "AUTOPR_WORKFLOWS_BUNDLE_BRANCH": settings.workflows_bundle_branch,
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundle_config(settings, url)),
        # Per state dir, not Airflow's default under /tmp: two platforms on one machine must not share clones.
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(settings.airflow_home / "dag_bundles"),
        # Airflow skips writing a changed serialized DAG parsed within this many seconds of the last write, but
        # still moves the DAG's bundle_version: a run started in that window would get the new commit's code
        # under the old version's task list.  Compiled workflows change only when a save commits, so no throttle.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m include.workflows.bundle", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rebuild", help="commit every enabled workflow's current version from the database")
    sub.add_parser("log", help="the bundle's recent commits")
    args = parser.parse_args(argv)
    settings = get_settings()
    bundle = WorkflowBundle.from_settings(settings)
    if args.command == "rebuild":
        print(f"{bundle.url} {settings.workflows_bundle_branch}: {rebuild_from_database(settings)}")
    else:
        bundle.ensure()
        for commit, subject in bundle.log():
            print(commit[:12], subject)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
