"""Done-when e2e: a DAG run through a running Airflow shows up, in order, on a test client and the page.

Uses the session's ``platform`` (Airflow components + the sidecar + MLflow, started
the way ``./autopr run`` starts them).  Nothing is faked: the workflow is saved
through the platform API, Airflow parses and runs it, the listener in the task
processes and the scheduler hands events to the outbox, the sidecar's relay
persists and publishes them; the test client and Chromium log in with a real
Airflow token.
"""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import quote

import httpx
import pytest

from include.events import ordering
from tests.dashboard.conftest import Watcher, parsed_workflow
from tests.dashboard.test_page import CHROMIUM, LAUNCH_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.anyio, pytest.mark.timeout(900)]


async def test_dag_run_events_reach_client_and_page_in_order(platform):
    from playwright.async_api import async_playwright, expect

    token = platform.token()
    api = httpx.AsyncClient(base_url=platform.airflow_url + "/autopr", timeout=60,
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    project = f"e2e-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=platform.airflow_url, headers={"Authorization": f"Bearer {token}"}) as af:
        dag_id = await parsed_workflow(api, af, project, "live")

    # A connected test client, logged in with the Airflow token.
    client = await Watcher(platform.dashboard_url, token).connect()
    ack = await client.join(project)
    assert ack["ok"], ack

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = await browser.new_page()
        try:
            # The page logs in with Airflow credentials through the sidecar.
            await page.goto(platform.dashboard_url + "/")
            await page.fill("#username", platform.username)
            await page.fill("#password", platform.password)
            await page.click("#login-button")
            await page.select_option("#project", project)
            await expect(page.get_by_test_id("status")).to_have_text("live", timeout=30_000)

            r = await api.post(f"/api/v1/projects/{project}/workflows/live/runs", json={})
            assert r.status_code == 201, r.text
            run_id = r.json()["run_id"]

            def run_done() -> bool:
                return any(e["event_type"] == "dag_run" and e["run_id"] == run_id
                           and e["state"] in ("success", "failed") for e in client.events)  # fmt: skip

            await client.wait_for(run_done, timeout=300)
            await asyncio.sleep(2)  # late task events (none expected after the run's end)
            mine = [e for e in client.events if e["run_id"] == run_id]
            ids = [e["id"] for e in mine]
            assert ids == sorted(ids) and len(ids) == len(set(ids))
            run_states = [e["state"] for e in mine if e["event_type"] == "dag_run"]
            assert {"running", "success"} <= set(run_states) <= {"queued", "running", "success"}, mine
            assert ordering.current_states(mine)[("dag_run", dag_id, run_id)]["state"] == "success", mine
            tasks = {e["task_id"] for e in mine if e["event_type"] == "task_instance"}
            assert tasks, mine
            # Each task's current state, by the one ordering rule, is its last one: success.  (Hook-less
            # states -- scheduled, queued -- come from the reconciler and may be persisted after running.)
            current = ordering.current_states(mine)
            for task in tasks:
                states = [e["state"] for e in mine if e.get("task_id") == task]
                shown = next(e for key, e in current.items() if key[0] == "task_instance" and key[3] == task)
                assert shown["state"] == "success" and states.count("running") <= 1, states

            # The page shows the same run, its final states, and links into Airflow.
            row = page.locator(f'#runs tr[data-run="{run_id}"]')
            await expect(row.locator("[data-run-state]")).to_have_attribute("data-run-state", "success", timeout=30_000)
            for task in tasks:
                chip = row.locator(f'[data-task="{task}"]')
                await expect(chip).to_have_attribute("data-state", "success", timeout=30_000)
            href = await row.locator("a").get_attribute("href")
            js_safe = "-_.!~*'()"  # what encodeURIComponent leaves alone
            ui = platform.settings.airflow_ui_url.rstrip("/")
            assert href == f"{ui}/dags/{quote(dag_id, safe=js_safe)}/runs/{quote(run_id, safe=js_safe)}"
            feed_ids = await page.locator("#feed li").evaluate_all("els => els.map(e => Number(e.dataset.id))")
            assert set(ids) <= set(feed_ids)
        finally:
            await browser.close()
            await client.close()
            await api.aclose()
