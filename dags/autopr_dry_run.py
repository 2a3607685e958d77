"""The Airflow DAG of AutoPR dry runs: a workflow on a stored event, every code-host write captured, none sent.

Started by the platform API (``POST /api/v1/projects/{project}/workflows/{workflow}/dry-runs``);
the logic lives in ``include.dag_factory.dry_run``, this file only builds the DAG.
"""

from include.dag_factory.dry_run import build_dry_run_dag

dag = build_dry_run_dag()
