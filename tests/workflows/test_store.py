"""Workflow store and save service on PostgreSQL: immutable versions, restore, optimistic concurrency, soft delete,
compiling after the commit, templates."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select, update

from include.db import models as m
from include.db.session import session_scope
from include.settings import get_settings
from include.workflows import service, store, templates_store
from include.workflows.compiler import compiled_paths
from include.workflows.validation import WorkflowInvalid


@pytest.fixture()
def acme(db, workflows_dir) -> str:
    with session_scope() as s:
        s.add(m.Project(slug="acme", name="Acme"))
        s.add(m.Project(slug="other", name="Other"))
    return "acme"


def test_create_save_versions_are_immutable_and_compiled(acme, valid_doc, workflows_dir):
    with session_scope() as s:
        rec = service.create_workflow(s, valid_doc, "alice")
        assert (rec.current_version, rec.revision, rec.spec.version) == (1, 1, 1)
    spec_path, stub_path = compiled_paths("acme", "review")
    assert spec_path.exists() and stub_path.exists()

    changed = copy.deepcopy(valid_doc)
    changed["name"] = "Review v2"
    changed["nodes"][1]["config"]["quality_threshold"] = 90
    with session_scope() as s:
        rec = service.update_workflow(s, "acme", "review", changed, "bob", expected_revision=1, comment="stricter")
    assert (rec.current_version, rec.revision, rec.name, rec.spec.version) == (2, 2, "Review v2", 2)
    assert '"quality_threshold": 90.0' in spec_path.read_text() and '"version": 2' in spec_path.read_text()

    with session_scope() as s:
        versions = store.list_versions(s, "acme", "review")
        assert [(v.version, v.created_by, v.comment) for v in versions] == [(2, "bob", "stricter"), (1, "alice", "created")]
        v1 = store.get_version(s, "acme", "review", 1)
    assert v1.spec.name == "Review" and v1.spec.node("qc").config.quality_threshold == 80

    # The old version row is untouched by later saves (immutable snapshots).
    with session_scope() as s:
        row = s.scalar(select(m.WorkflowVersion).where(m.WorkflowVersion.version == 1))
        assert row.spec["name"] == "Review" and row.spec["version"] == 1


def test_restore_creates_a_new_version(acme, valid_doc):
    with session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
        store.save_new_version(s, "acme", "review", dict(valid_doc, name="Renamed"), "alice")
        rec = store.restore_version(s, "acme", "review", 1, "carol", expected_revision=2)
    assert (rec.current_version, rec.revision, rec.name) == (3, 3, "Review")
    with session_scope() as s:
        v3 = store.get_version(s, "acme", "review", 3)
        assert v3.comment == "restored from version 1" and v3.created_by == "carol" and v3.spec.version == 3
        with pytest.raises(store.VersionNotFound):
            store.restore_version(s, "acme", "review", 99, "carol")


def test_stale_revision_is_refused_and_loses_nothing(acme, valid_doc):
    with session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
        store.save_new_version(s, "acme", "review", dict(valid_doc, name="Alice's edit"), "alice", expected_revision=1)
    with pytest.raises(store.StaleRevision) as info, session_scope() as s:
        store.save_new_version(s, "acme", "review", dict(valid_doc, name="Bob's edit"), "bob", expected_revision=1)
    assert (info.value.expected, info.value.current) == (1, 2)
    with session_scope() as s:
        rec = store.get_workflow(s, "acme", "review")
        assert (rec.name, rec.current_version, rec.revision) == ("Alice's edit", 2, 2)
        assert len(store.list_versions(s, "acme", "review")) == 2


def test_concurrent_writer_between_read_and_write_is_detected(acme, valid_doc):
    """The revision bump is a conditional UPDATE: a save racing another transaction loses cleanly."""
    with session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
    with pytest.raises(store.StaleRevision), session_scope() as s1:
        row = store._row(s1, "acme", "review")  # s1 has read revision 1
        with session_scope() as s2:  # another request commits first
            s2.execute(update(m.Workflow).where(m.Workflow.id == row.id).values(revision=m.Workflow.revision + 1))
        store._bump(s1, row, None)
    with session_scope() as s:
        assert store.get_workflow(s, "acme", "review").revision == 2


def test_invalid_saves_change_nothing(acme, valid_doc, workflows_dir):
    with session_scope() as s:
        service.create_workflow(s, valid_doc, "alice")
    spec_path, _ = compiled_paths("acme", "review")
    before = spec_path.read_text()
    broken = copy.deepcopy(valid_doc)
    broken["edges"].append({"id": "loop", "source": "tell", "target": "qc"})
    with pytest.raises(WorkflowInvalid) as info, session_scope() as s:
        service.update_workflow(s, "acme", "review", broken, "bob")
    assert info.value.problems[0].edge_id == "loop"
    with pytest.raises(WorkflowInvalid) as info, session_scope() as s:
        service.update_workflow(s, "acme", "review", dict(valid_doc, project="other"), "bob")
    assert info.value.problems[0].field == "project"
    with session_scope() as s:
        assert store.get_workflow(s, "acme", "review").current_version == 1
    assert spec_path.read_text() == before


def test_create_rules(acme, valid_doc):
    with pytest.raises(store.ProjectNotFound), session_scope() as s:
        store.create_workflow(s, dict(valid_doc, project="nope"), "alice")
    with session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
    with pytest.raises(store.WorkflowExists), session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
    with session_scope() as s:  # same id in another project is fine
        store.create_workflow(s, dict(valid_doc, project="other"), "alice")


def test_rollback_never_reaches_airflow(acme, valid_doc):
    """The store alone compiles nothing; the service compiles only once its commit succeeded."""
    with pytest.raises(RuntimeError), session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
        raise RuntimeError("request failed after the save")
    spec_path, stub_path = compiled_paths("acme", "review")
    assert not spec_path.exists() and not stub_path.exists()
    with session_scope() as s:
        store.create_workflow(s, valid_doc, "alice")
    assert not spec_path.exists()  # stored and committed, but nobody asked for a compile

    asked = []
    with pytest.raises(store.StaleRevision), session_scope() as s:
        service.update_workflow(s, "acme", "review", dict(valid_doc, name="Late"), "bob", expected_revision=7,
                                request_parse=lambda *key: asked.append(key))
    assert not spec_path.exists() and asked == []
    with session_scope() as s:
        service.update_workflow(s, "acme", "review", dict(valid_doc, name="Now"), "bob", expected_revision=1,
                                request_parse=lambda *key: asked.append(key))
    assert '"version": 2' in spec_path.read_text() and asked == [("acme", "review")]


def test_a_failed_compile_never_loses_the_stored_version(acme, valid_doc, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("AUTOPR_WORKFLOWS_DIR", str(blocked / "workflows"))
    get_settings.cache_clear()
    with pytest.raises(OSError), session_scope() as s:
        service.create_workflow(s, valid_doc, "alice")
    with session_scope() as s:
        rec = store.get_workflow(s, "acme", "review")
        assert (rec.current_version, rec.spec.name) == (1, "Review")


def test_soft_delete_and_undelete(acme, valid_doc):
    with session_scope() as s:
        service.create_workflow(s, valid_doc, "alice")
        service.create_workflow(s, dict(valid_doc, id="second"), "alice")
    spec_path, stub_path = compiled_paths("acme", "review")
    with session_scope() as s:
        rec = service.delete_workflow(s, "acme", "review", "alice", expected_revision=1)
        assert rec.deleted_at is not None and rec.revision == 2
    assert not spec_path.exists() and not stub_path.exists()
    with session_scope() as s:
        with pytest.raises(store.WorkflowNotFound):
            store.get_workflow(s, "acme", "review")
        with pytest.raises(store.WorkflowExists, match="undelete"):
            store.create_workflow(s, valid_doc, "alice")
        assert [w.id for w in store.list_workflows(s, "acme").items] == ["second"]
        assert {w.id for w in store.list_workflows(s, "acme", include_deleted=True).items} == {"review", "second"}
        rec = service.undelete_workflow(s, "acme", "review", "alice")
        assert rec.deleted_at is None and rec.current_version == 1
    assert spec_path.exists() and stub_path.exists()


def test_disabled_workflows_have_no_dag(acme, valid_doc):
    with session_scope() as s:
        service.create_workflow(s, valid_doc, "alice")
    with session_scope() as s:
        service.update_workflow(s, "acme", "review", dict(valid_doc, enabled=False), "alice")
    spec_path, _ = compiled_paths("acme", "review")
    assert not spec_path.exists()
    with session_scope() as s:
        service.update_workflow(s, "acme", "review", dict(valid_doc, enabled=True), "alice")
    assert spec_path.exists()


def test_list_paging_and_project_filters(acme, valid_doc):
    with session_scope() as s:
        for i in range(7):
            store.create_workflow(s, dict(valid_doc, id=f"wf{i}"), "alice")
        store.create_workflow(s, dict(valid_doc, id="elsewhere", project="other"), "alice")
    with session_scope() as s:
        page = store.list_workflows(s, "acme", offset=5, limit=5)
        assert (page.total, len(page.items)) == (7, 2)
        assert store.list_workflows(s, ["acme", "other"], limit=100).total == 8
        assert store.list_workflows(s, None).total == 8
        with pytest.raises(ValueError):
            store.list_workflows(s, "acme", limit=0)


def test_templates_builtin_public_private_and_instantiate(acme, valid_doc):
    with session_scope() as s:
        seeded = templates_store.seed_builtin_templates(s)
        again = templates_store.seed_builtin_templates(s)  # idempotent
    assert {t.name for t in seeded} == {"Basic Quality Check", "PR Review Automation", "CI/CD Pipeline"}
    assert [t.id for t in seeded] == [t.id for t in again]
    with session_scope() as s:
        assert s.scalar(select(m.WorkflowTemplate).where(m.WorkflowTemplate.created_by == "system")) is not None
        assert len(s.scalars(select(m.WorkflowTemplate)).all()) == 3

        private = templates_store.save_as_template(s, valid_doc, "My Review", is_public=False, user="alice")
        public = templates_store.save_as_template(s, dict(valid_doc, name="Shared"), "Team Review", is_public=True,
                                                  user="alice")
        with pytest.raises(templates_store.TemplateExists):
            templates_store.save_as_template(s, valid_doc, "My Review", is_public=False, user="alice")
    assert private.spec.project == "template" and private.created_by == "alice"

    with session_scope() as s:
        alice = {t.name for t in templates_store.list_templates(s, "alice")}
        bob = {t.name for t in templates_store.list_templates(s, "bob")}
        assert alice == {"Basic Quality Check", "PR Review Automation", "CI/CD Pipeline", "My Review", "Team Review"}
        assert bob == alice - {"My Review"}
        assert templates_store.list_templates(s, "bob")[0].created_by == "system"  # built-ins first
        with pytest.raises(templates_store.TemplateNotFound):
            templates_store.get_template(s, private.id, "bob")
        assert templates_store.get_template(s, public.id, "bob").name == "Team Review"

    basic = next(t for t in seeded if t.slug == "basic-quality-check")
    with session_scope() as s:
        rec = service.instantiate_template(s, basic.id, "acme", "quality", "bob", name="Acme quality")
    assert (rec.project, rec.id, rec.name, rec.current_version) == ("acme", "quality", "Acme quality", 1)
    # it starts disabled: nothing compiled, so no DAG and no webhook run until someone enables it
    assert rec.enabled is False and rec.spec.enabled is False
    assert not compiled_paths("acme", "quality")[0].exists()
    with session_scope() as s:
        enabled = service.update_workflow(s, "acme", "quality", rec.spec.model_copy(update={"enabled": True}), "bob",
                                          expected_revision=rec.revision, comment="enabled")
    assert enabled.enabled is True and compiled_paths("acme", "quality")[0].exists()
    with session_scope() as s:
        assert [v.comment for v in store.list_versions(s, "acme", "quality")] == ["enabled", "from template 'Basic Quality Check'"]
        with pytest.raises(templates_store.TemplateNotFound):
            service.instantiate_template(s, private.id, "acme", "stolen", "bob")
        with pytest.raises(WorkflowInvalid):
            service.instantiate_template(s, basic.id, "acme", "Bad Id", "bob")
