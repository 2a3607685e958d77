"""Load compiled workflows that live outside the DAG folder (used by ``dags/workflow_loader.py``).

Under ``./autopr run`` compiled workflows are their own versioned git bundle
(:mod:`include.workflows.bundle`, Airflow bundle ``autopr-workflows``) and this
loader builds nothing: the same DAG from two bundles would flip between them,
and a DAG built here would not be pinned to the version its run started on.

Otherwise ``settings.workflows_dir`` is inside the DAG folder (``dags/workflows``)
or its own DAG bundle, and Airflow parses each workflow's stub file itself —
one file, one DAG, one import error per broken workflow.

When it points elsewhere (tests, a shared volume mounted outside the DAG
folder), Airflow cannot see those stubs, so ``dags/workflow_loader.py`` builds
the DAGs from the specs instead.  One file can carry only one import error,
so here a broken spec is logged (with the workflow named) and skipped rather
than raised: raising would hide every healthy workflow.  For per-workflow
import errors in the UI, put ``workflows_dir`` inside the DAG folder or add it
as a DAG bundle (see ``dags/workflows/README.md``).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _bundle_items() -> list[dict[str, Any]]:
    """Airflow's configured DAG bundles (parsing the JSON setting; no DB)."""
    try:
        from airflow.configuration import conf

        raw = conf.get("dag_processor", "dag_bundle_config_list", fallback="") or ""
        items = json.loads(raw) if raw.strip() else []
    except Exception:  # noqa: BLE001 - a broken setting is Airflow's to report, not ours
        return []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _bundle_paths() -> list[Path]:
    """Local DAG bundle paths from Airflow's config."""
    paths = []
    for item in _bundle_items():
        path = (item.get("kwargs") or {}).get("path")
        if path:
            paths.append(Path(path).expanduser().resolve())
    return paths


def workflow_bundle_configured() -> bool:
    """Whether Airflow reads compiled workflows from their own bundle (then nothing is loaded here)."""
    from include.workflows.bundle import BUNDLE_NAME

    return any(item.get("name") == BUNDLE_NAME for item in _bundle_items())


def parsed_by_airflow(workflows_dir: Path, dag_folder: Path) -> bool:
    """Whether Airflow already parses the stubs in ``workflows_dir`` (inside the DAG folder or a bundle)."""
    wd = workflows_dir.expanduser().resolve()
    for root in [dag_folder.expanduser().resolve(), *_bundle_paths()]:
        if wd == root or root in wd.parents:
            return True
    return False


def load_external_workflows(workflows_dir: Path, dag_folder: Path) -> dict[str, Any]:
    """{dag_id: DAG} for every spec in ``workflows_dir`` unless Airflow parses its stubs already."""
    if workflow_bundle_configured() or not workflows_dir.is_dir() or parsed_by_airflow(workflows_dir, dag_folder):
        return {}
    from include.dag_factory.dag_builder import build_dag_from_file

    dags: dict[str, Any] = {}
    for spec in sorted(workflows_dir.glob("*.json")):
        try:
            dag = build_dag_from_file(spec)
        except Exception as exc:  # noqa: BLE001 - one broken workflow must not hide the others
            log.error("%s", exc)
            warnings.warn(str(exc), stacklevel=2)
            continue
        dags[dag.dag_id] = dag
    return dags
