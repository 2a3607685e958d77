"""Airflow DAGs from compiled workflows: an entry-point concern, so it sits above the actions its tasks call.

* ``dag_builder`` — render one validated workflow as an Airflow DAG (one task
  per node; action tasks call :func:`include.actions.run_node`); each compiled
  stub file calls its ``build_dag_from_file``;
* ``loader`` — build the DAGs of compiled workflows kept outside the DAG folder
  (``dags/workflow_loader.py``).

The workflow domain (:mod:`include.workflows`) validates, stores and compiles
workflows into files without knowing about Airflow tasks; this package is what
turns those files into DAGs at parse time.
"""
