"""Workflow Builder: typed workflow graphs, validated, versioned and compiled into Airflow DAGs.

Modules, in the order data flows through them:

* ``nodes`` / ``model`` — the document (pydantic, ``extra="forbid"``);
* ``expressions`` — CEL conditions; ``validation`` — all problems at once;
* ``serialization`` — JSON/YAML import and export; ``schema`` — JSON Schemas for forms;
* ``store`` (workflows, versions), ``templates_store`` (the template library), ``records`` (what they return);
  ``diff`` — what changed between two versions;
* ``service`` — a save step by step: store, commit, compile, publish (``bundle``), ask Airflow to parse
  (``parse_requests``); ``edits`` — node/edge edits of a document, saved through the service;
* ``graph`` -> ``compiler`` — intermediate graph, compiled files (:mod:`include.dag_factory` turns them into DAGs);
* ``triggers`` — event normalisation and trigger filters (shared by the DAG and the webhook API).

Importing this package stays light: nothing here imports Airflow when imported (``dag_builder``, which only
forwards old compiled stubs to :mod:`include.dag_factory`, aside).
"""
