"""The layers point one way (README, "Layout"): import-linter's contracts in pyproject.toml hold.

core (settings, db, enums, auth, clients) -> domain (workflows, events, reviews,
code host, analysis) -> learning (ml) -> actions and API -> entry points.  A
module that imports upward, or a module pickled into MLflow that imports the
app database, fails this test with import-linter's report of the offending chain.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
