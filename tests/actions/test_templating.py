"""Templates render every placeholder the workflow validator accepts: one list, in include.workflows.nodes."""

from __future__ import annotations

from include.actions.context import RunContext
from include.actions.templating import render, template_values
from include.workflows.nodes import TEMPLATE_PLACEHOLDERS, check_template


def _ctx() -> RunContext:
    return RunContext(project="acme", workflow_id="review", workflow_version=1, dag_id="autopr__acme__review",
                      run_id="manual__1", event={"kind": "pr_opened", "repository": "o/r", "pr_number": 7})


def test_every_validated_placeholder_has_a_value():
    assert set(TEMPLATE_PLACEHOLDERS) <= set(template_values(_ctx()))


def test_a_template_using_every_placeholder_validates_and_renders():
    template = " ".join(f"{{{name}}}" for name in sorted(TEMPLATE_PLACEHOLDERS))
    check_template(template)
    out = render("comment", "body_template", template, _ctx())
    assert "o/r" in out and "autopr__acme__review" in out and "{" not in out

