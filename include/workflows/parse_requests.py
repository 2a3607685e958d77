"""Asking Airflow to parse a saved workflow's DAG file now, instead of at the DAG processor's next scan.

Best effort throughout: the scan picks every file up anyway, so nothing here
raises.  Two ways, tried in order:

* Airflow's public ``PUT /api/v2/parseDagFile/{file_token}``, for a DAG
  Airflow knows (the token comes from the DAG, and with it the bundle and
  file); with workflows built by ``dags/workflow_loader.py`` from outside the
  DAG folder, re-parsing that loader picks a new spec up;
* for a file Airflow has never parsed there is no token, and the endpoint
  cannot be asked: a token is Airflow's signature over the bundle and path,
  and only a parsed DAG carries one.  Inside Airflow's API server (where the
  platform API can run as a plugin app), :func:`queue_unparsed_file` writes
  the ``DagPriorityParsingRequest`` row that endpoint writes.  That row is
  Airflow's internal model, so this module is the one place that writes it.

Under the versioned workflow bundle (:mod:`include.workflows.bundle`) the row
names the bundle and the compiled stub: a priority request also makes the DAG
processor refresh (fetch) the bundle before it parses, so a first save shows
up without waiting for the bundle's refresh interval.
"""

from __future__ import annotations

import logging

from include.airflow_client import AirflowClient, AirflowError
from include.workflows.model import DAG_ID_PREFIX, dag_id_for

log = logging.getLogger(__name__)

DAG_FOLDER_BUNDLE = "dags-folder"  # Airflow's name for its [core] dags_folder bundle
LOADER_FILE = "workflow_loader.py"


def request_parse(project: str, workflow_id: str, client: AirflowClient | None, *, inside_api_server: bool) -> None:
    """Ask for a parse through ``client`` (None: no credentials), else queue the file when inside the API server."""
    if client is not None:
        try:
            with client:
                if client.request_reparse(dag_id_for(project, workflow_id)):
                    return
                tokens = {d["file_token"] for d in client.list_dags(dag_id_pattern=DAG_ID_PREFIX, limit=100)
                          if str(d.get("fileloc", "")).endswith(LOADER_FILE) and d.get("file_token")}
                for token in tokens:
                    client.reparse_file(token)
                if tokens:
                    return
        except AirflowError as exc:
            log.info("re-parse request for %s/%s not sent: %s", project, workflow_id, exc)
    if inside_api_server:
        queue_unparsed_file(project, workflow_id)


def queue_unparsed_file(project: str, workflow_id: str) -> None:
    """Inside Airflow's API server, queue a never-parsed workflow file the way ``PUT /parseDagFile`` does."""
    try:
        from airflow.models.dagbag import DagPriorityParsingRequest
        from airflow.utils.session import create_session

        target = _parse_target(project, workflow_id)
        if target is None:
            return
        bundle_name, relative_fileloc = target
        with create_session() as session:
            session.merge(DagPriorityParsingRequest(bundle_name=bundle_name, relative_fileloc=relative_fileloc))
    except Exception as exc:  # noqa: BLE001 - best effort; the folder scan still picks the file up
        log.info("could not queue a parse of %s/%s: %s", project, workflow_id, exc)


def _parse_target(project: str, workflow_id: str) -> tuple[str, str] | None:
    """(Airflow bundle name, file path inside it) of the file that defines this workflow's DAG."""
    from pathlib import Path

    from airflow.configuration import conf

    from include.workflows import bundle
    from include.workflows.compiler import compiled_name, compiled_paths

    if bundle.configured_url() is not None:
        return bundle.BUNDLE_NAME, f"{compiled_name(project, workflow_id)}.py"
    dags_folder = Path(conf.get("core", "dags_folder")).resolve()
    stub = compiled_paths(project, workflow_id)[1].resolve()
    target = stub if dags_folder in stub.parents else dags_folder / LOADER_FILE
    if not target.exists():
        return None
    return DAG_FOLDER_BUNDLE, str(target.relative_to(dags_folder))
