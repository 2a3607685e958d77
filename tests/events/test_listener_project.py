"""The project a listener files a DAG run's events under: a DAG first seen without its tags is not filed
under the fallback project for the life of the process."""

from __future__ import annotations

from types import SimpleNamespace

from include.events import listener
from include.events.schema import DEFAULT_PROJECT


def _run(dag_id: str, *, dag=None, dag_model=None) -> SimpleNamespace:
    return SimpleNamespace(dag_id=dag_id, dag=dag, dag_model=dag_model)


def test_a_dag_model_read_before_its_tags_does_not_pin_the_fallback_project():
    dag_id = "autopr__late-tags__live"
    listener._projects.pop(dag_id, None)
    # First look: the DagModel row exists, its tags are not written yet (a first parse in progress).
    assert listener._dag_run_project(_run(dag_id, dag_model=SimpleNamespace(tags=[]))) == DEFAULT_PROJECT
    # Next look: the tags are there; the run's states go to its project, not to the fallback.
    tagged = SimpleNamespace(tags=[SimpleNamespace(name="project:late-tags"), SimpleNamespace(name="autopr")])
    assert listener._dag_run_project(_run(dag_id, dag_model=tagged)) == "late-tags"


def test_a_dag_object_without_tags_yet_does_not_pin_the_fallback_project():
    dag_id = "autopr__late-tags__obj"
    listener._projects.pop(dag_id, None)
    assert listener._dag_run_project(_run(dag_id, dag=SimpleNamespace(tags=set()))) == DEFAULT_PROJECT
    assert listener._dag_run_project(_run(dag_id, dag=SimpleNamespace(tags={"project:late-tags"}))) == "late-tags"


def test_a_project_read_from_a_tag_is_remembered():
    dag_id = "autopr__cached__live"
    listener._projects.pop(dag_id, None)
    assert listener._dag_run_project(_run(dag_id, dag=SimpleNamespace(tags={"project:cached"}))) == "cached"
    # A later detached row (no tags readable) still gets the project.
    assert listener._dag_run_project(_run(dag_id, dag_model=SimpleNamespace(tags=None))) == "cached"


def test_a_dag_with_tags_but_no_project_tag_is_remembered_and_its_row_not_read_again():
    """The platform's own DAGs carry tags but no project: the hook must not read the DagModel on every call."""
    dag_id = "autopr_platform_dag"
    listener._projects.pop(dag_id, None)
    platform_tags = [SimpleNamespace(name="autopr"), SimpleNamespace(name="ml")]
    assert listener._dag_run_project(_run(dag_id, dag_model=SimpleNamespace(tags=platform_tags))) == DEFAULT_PROJECT

    class Unreadable:
        @property
        def tags(self):
            raise AssertionError("the DagModel was read again")

    assert listener._dag_run_project(_run(dag_id, dag_model=Unreadable())) == DEFAULT_PROJECT
