"""Fixtures for the workflow model, store and compiler tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def generated_workflows() -> list[dict]:
    """200 valid generated workflows (tests/workflows/strategies.py), drawn once per session."""
    from tests.workflows.strategies import draw_valid_workflows

    return draw_valid_workflows(200)


@pytest.fixture()
def workflows_dir(tmp_path, monkeypatch) -> Path:
    """A private AUTOPR_WORKFLOWS_DIR for one test (compiled files land here)."""
    from include.settings import get_settings

    path = tmp_path / "workflows"
    path.mkdir()
    monkeypatch.setenv("AUTOPR_WORKFLOWS_DIR", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture()
def valid_doc() -> dict:
    """A small valid workflow touching every node type, with a branch and a join."""
    return {
        "format_version": "1",
        "id": "review",
        "name": "Review",
        "project": "acme",
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"event": "pr_opened", "branches": ["main"]}},
            {"id": "qc", "type": "action", "config": {"action": "quality_check", "quality_threshold": 80}},
            {"id": "gate", "type": "condition", "config": {"expression": "nodes.qc.quality_score >= 80"}},
            {"id": "comment", "type": "action", "config": {"action": "post_comment", "template": "{issues_count} issues"}},
            {"id": "hook", "type": "integration", "config": {"connection_id": "ci", "method": "POST", "endpoint": "/x"}},
            {"id": "tell", "type": "notification", "config": {"channel": "dashboard", "message": "done"}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "qc"},
            {"id": "e2", "source": "qc", "target": "gate"},
            {"id": "e3", "source": "gate", "target": "comment", "branch": "true"},
            {"id": "e4", "source": "gate", "target": "hook", "branch": "false"},
            {"id": "e5", "source": "comment", "target": "tell"},
            {"id": "e6", "source": "hook", "target": "tell"},
        ],
    }
