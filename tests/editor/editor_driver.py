"""Drive the workflow editor the way a person does: drag, connect, type, click.

The e2e test (and anyone debugging it) uses these helpers on a Playwright
page or frame showing the editor.  They only use what a user sees: palette
buttons, node handles, form fields, toolbar buttons and the status bar.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import FrameLocator, Locator, Page, expect


class EditorDriver:
    def __init__(self, page: Page, root: Page | FrameLocator, artifacts: Path):
        self.page = page  # keyboard and screenshots
        self.root = root  # where the editor's DOM is (the page, or the Airflow UI's iframe)
        self.artifacts = artifacts
        self._shots = 0

    # --- looking -----------------------------------------------------------------------------------

    def loc(self, selector: str) -> Locator:
        return self.root.locator(selector)

    def node(self, node_id: str) -> Locator:
        return self.loc(f'.react-flow__node[data-id="{node_id}"]')

    def handle(self, node_id: str, handle_id: str) -> Locator:
        return self.node(node_id).locator(f'.react-flow__handle[data-handleid="{handle_id}"]')

    def button(self, name: str) -> Locator:
        return self.root.get_by_role("button", name=name, exact=True)

    def status(self) -> Locator:
        return self.root.get_by_test_id("validation-status")

    def screenshot(self, name: str) -> Path:
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        return path

    # --- editing -----------------------------------------------------------------------------------

    def drop(self, palette_key: str, x: float, y: float, expect_id: str) -> Locator:
        """Drag a palette entry onto the canvas at (x, y) relative to the canvas."""
        self.root.get_by_test_id(f"palette-{palette_key}").drag_to(
            self.loc(".react-flow__pane"), target_position={"x": x, "y": y}
        )
        node = self.node(expect_id)
        expect(node).to_be_visible()
        return node

    def connect(self, source: str, handle: str, target: str) -> None:
        """Draw an edge from a source handle to the target's input handle."""
        before = self.loc(".react-flow__edge").count()
        self.handle(source, handle).drag_to(self.handle(target, "in"))
        expect(self.loc(".react-flow__edge")).to_have_count(before + 1)

    def select(self, node_id: str) -> None:
        self.node(node_id).locator(".node-label").click()
        expect(self.root.get_by_test_id("node-form")).to_be_visible()

    def deselect(self) -> None:
        self.loc(".react-flow__pane").click(position={"x": 5, "y": 5})
        expect(self.root.get_by_test_id("workflow-panel")).to_be_visible()

    def field(self, name: str) -> Locator:
        """A config form field of the selected node (rjsf ids are root_<field>)."""
        return self.loc(f"#root_{name}")

    def fill(self, name: str, value: str) -> None:
        self.field(name).fill(value)

    def add_list_item(self, name: str, value: str) -> None:
        """Type into the list field's empty last entry, or add one with its "+ add" button first."""
        items = self.loc(f"#root_{name} .rjsf-array-item input")
        count = items.count()
        if count == 0 or items.nth(count - 1).input_value() != "":
            self.loc(f"#root_{name}__add").click()
            count += 1
        self.loc(f"#root_{name}_{count - 1}").fill(value)

    def key(self, combo: str) -> None:
        self.page.keyboard.press(combo)

    def wait_valid(self, timeout: float = 15_000) -> None:
        expect(self.status()).to_have_text("✓ Valid", timeout=timeout)

    def wait_saved(self, version: int, timeout: float = 20_000) -> None:
        expect(self.root.get_by_test_id("save-status")).to_have_text(f"Saved · v{version}", timeout=timeout)

    def problems_on(self, node_id: str) -> int:
        badge = self.node(node_id).locator(".node-badge")
        return int(badge.inner_text()) if badge.count() else 0



def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
