"""ml/compiled/ is generic: it compiles fitted sklearn steps and knows nothing of the project's features.

The project's part (which derivation feeds a pipeline, which frame the plain
model is fed, the probe records) is handed in by ml/fast_predict.py and
ml/fast_helpfulness.py, which import the package and never each other in a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

ML = Path(__file__).resolve().parents[2] / "ml"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_compiled_package_imports_no_project_code():
    for path in sorted((ML / "compiled").glob("*.py")):
        project = {n for n in _imports(path) if (n == "ml" or n.startswith(("ml.", "include.")))
                   and not n.startswith("ml.compiled")}
        assert not project, f"{path.name} imports project code: {sorted(project)}"


def test_the_severity_compiler_does_not_import_the_helpfulness_one():
    severity = _imports(ML / "fast_predict.py")
    assert not any(n.startswith("ml.fast_helpfulness") for n in severity)
