"""Where compiled stub files written before the DAG renderer moved to :mod:`include.dag_factory` import it from.

Every workflow version is a commit of the workflow bundle, and a run (or a
task cleared later) executes from the commit it started on, so stubs whose
first line of code is ``from include.workflows.dag_builder import
build_dag_from_file`` stay in use long after new saves write the new import.
This name forwards them; nothing new imports it.  It is the one import of the
domain layer into an entry point, declared in pyproject.toml's import-linter
contract.
"""

from include.dag_factory.dag_builder import build_dag_from_file

__all__ = ["build_dag_from_file"]
