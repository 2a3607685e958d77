"""A fixture that pins "no model served" for tests that check analyser severities as the analysers give them.

Other areas' tests may register a champion model in the same session; a test
whose expectations are the analysers' own severities points the tracking URI
at an empty store of its own.  Conftests opt in with
``from tests.support.no_registry import no_model_registry  # noqa: F401``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_model_registry(monkeypatch, tmp_path):
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
