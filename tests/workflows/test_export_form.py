"""The export form: no defaults, no 0,0 positions, and loading it gives the same workflow back."""

from __future__ import annotations

import yaml

from include.workflows.model import Workflow
from include.workflows.serialization import export_dict, from_yaml, to_yaml
from include.workflows.templates_store import builtin_templates


def _has_default_noise(data: dict) -> list[str]:
    noise = [f"node {n['id']}: {key}" for n in data["nodes"] for key in ("label", "position")
             if n.get(key) in ("", {"x": 0.0, "y": 0.0})]
    return noise + [key for key in ("description", "enabled") if data.get(key) in ("", True)]


def test_generated_workflows_export_minimal_and_load_back_the_same(generated_workflows):
    for doc in generated_workflows:
        wf = Workflow.model_validate(doc)
        exported = export_dict(wf)
        assert exported["format_version"] == "1"
        assert not _has_default_noise(exported), exported
        assert Workflow.model_validate(exported) == wf
        assert from_yaml(to_yaml(wf)) == wf


def test_builtin_template_exports_are_short():
    for item in builtin_templates():
        wf = item["workflow"]
        exported = export_dict(wf)
        # the quality check's defaults (mode, analyzers, timeouts...) are left out, the author's values kept
        for node in exported["nodes"]:
            full = wf.node(node["id"]).config.model_dump(mode="json", exclude_none=True)
            assert set(node["config"]) <= set(full)
            assert all(full[k] == v for k, v in node["config"].items())
        assert len(to_yaml(wf).splitlines()) < len(yaml.safe_dump(wf.to_dict(), sort_keys=False).splitlines())
