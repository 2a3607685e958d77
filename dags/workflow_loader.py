"""Airflow DAGs of compiled AutoPR workflows kept outside this DAG folder.

Compiled workflows are a spec (``<project>__<id>.json``) plus a one-line DAG
file each, in ``AUTOPR_WORKFLOWS_DIR`` (default ``dags/workflows/``, which
Airflow parses directly: one file, one DAG, one import error per workflow).
When that directory lies outside the DAG folder, this loader builds their DAGs
instead — reading files only, no database or network at parse time.  Under
``./autopr run`` the workflows are Airflow's ``autopr-workflows`` git bundle
(versioned: each run keeps the version it started on) and this file builds none.
"""

from pathlib import Path

from include.dag_factory.loader import load_external_workflows
from include.settings import get_settings

globals().update(load_external_workflows(get_settings().workflows_dir, Path(__file__).resolve().parent))
