"""The editor's API types (editor/src/api/openapi.gen.ts) are generated from the platform's OpenAPI document.

The test generates them again, with the editor's own script (``npm run api-types``), from the document the
app serves at ``/autopr/openapi.json``, and fails when the committed file differs: a route or model changed
without the editor's types following.  Regenerate with ``npm run api-types --prefix editor`` while the
platform runs, or from a saved document (``npm run api-types --prefix editor -- openapi.json``).
"""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.editor.conftest import EDITOR

COMMITTED = EDITOR / "src" / "api" / "openapi.gen.ts"


def test_committed_api_types_match_the_openapi_document(tmp_path):
    from include.api.app import create_app

    node = shutil.which("node")
    assert node, "Node.js 20+ is needed to generate the editor's API types: see the README's set-up"
    if not (EDITOR / "node_modules" / "openapi-typescript").is_dir():
        subprocess.run([shutil.which("npm") or "npm", "ci", "--prefix", str(EDITOR), "--no-audit", "--no-fund"],
                       check=True, timeout=600)
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(create_app().openapi()), encoding="utf-8")
    fresh = tmp_path / "openapi.gen.ts"
    subprocess.run([node, str(EDITOR / "scripts" / "api-types.mjs"), str(document), str(fresh)],
                   check=True, timeout=120, capture_output=True, cwd=EDITOR)
    assert fresh.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8"), (
        "editor/src/api/openapi.gen.ts is stale: run `npm run api-types --prefix editor` "
        "(with the platform running, or `-- <saved openapi.json>`) and commit it")
