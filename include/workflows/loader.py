"""Load compiled workflows that live outside the DAG folder (used by ``dags/workflow_loader.py``).

Normally ``settings.workflows_dir`` is inside the DAG folder (``dags/workflows``)
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


def _bundle_paths() -> list[Path]:
    """Local DAG bundle paths from Airflow's config (parsing the JSON setting; no DB)."""
    try:
        from airflow.configuration import conf

        raw = conf.get("dag_processor", "dag_bundle_config_list", fallback="") or ""
        items = json.loads(raw) if raw.strip() else []
    except Exception:  # noqa: BLE001 - a broken setting is Airflow's to report, not ours
        return []
    paths = []
    for item in items if isinstance(items, list) else []:
        path = (item.get("kwargs") or {}).get("path") if isinstance(item, dict) else None
        if path:
            paths.append(Path(path).expanduser().resolve())
    return paths


def parsed_by_airflow(workflows_dir: Path, dag_folder: Path) -> bool:
    """Whether Airflow already parses the stubs in ``workflows_dir`` (inside the DAG folder or a bundle)."""
    wd = workflows_dir.expanduser().resolve()
    for root in [dag_folder.expanduser().resolve(), *_bundle_paths()]:
        if wd == root or root in wd.parents:
            return True
    return False


def load_external_workflows(workflows_dir: Path, dag_folder: Path) -> dict[str, Any]:
    """{dag_id: DAG} for every spec in ``workflows_dir`` unless Airflow parses its stubs already."""
    if not workflows_dir.is_dir() or parsed_by_airflow(workflows_dir, dag_folder):
        return {}
    from include.workflows.dag_builder import build_dag_from_file

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
