"""integration and notification nodes over real transports: HTTP through HttpHook, SMTP, the events table.

The HTTP receiver here is a plain local HTTP server that records what it gets
(any HTTP endpoint a user points an integration at); the SMTP server is
aiosmtpd, a real SMTP server implementation.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from include.actions import ActionFailed, run_node
from include.db.models import ExecutionEvent
from include.db.session import session_scope
from tests.actions.conftest import make_ctx
from tests.support.ports import free_port

EVENT = {"kind": "pr_opened", "repository": "acme/app", "pr_number": 7, "sha": "a" * 40}
QUALITY = {"q": {"issues_count": 3, "quality_score": 81.5, "passed": True, "summary": "3 issues"}}


class Receiver:
    """A local HTTP endpoint answering with a fixed status and recording requests."""

    def __init__(self, status: int = 200, reply: object = None):
        self.status, self.reply, self.requests = status, reply, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                receiver.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": raw.decode()}
                )
                data = json.dumps(receiver.reply if receiver.reply is not None else {"ok": True}).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def conn_json(self) -> str:
        return json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": self.server.server_address[1], "schema": "http"}
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver(monkeypatch):
    r = Receiver()
    monkeypatch.setenv("AIRFLOW_CONN_CI_API", r.conn_json())
    yield r
    r.close()


def _integration(**config):
    return {"id": "call_ci", "type": "integration", "label": "CI", "config": {"connection_id": "ci_api", **config}}


def test_integration_sends_the_configured_request(receiver):
    receiver.reply = {"build": 42}
    out = run_node(
        _integration(
            method="POST",
            endpoint="/hooks/{repository}",
            headers={"X-Run": "{run_id}"},
            body={"pr": "{pr_number}", "score": "{quality_score}", "n": 1},
            expected_status=[200],
        ),
        make_ctx(EVENT, QUALITY),
    )
    [req] = receiver.requests
    assert req["method"] == "POST" and req["path"] == "/hooks/acme/app"
    assert req["headers"]["X-Run"] == "manual__2026-01-01T00:00:00+00:00"
    assert json.loads(req["body"]) == {"pr": "7", "score": "81.5", "n": 1}
    assert out == {"status_code": 200, "response_json": {"build": 42}, "response_text": None}


def test_integration_unexpected_status_names_it(receiver):
    receiver.status = 503
    with pytest.raises(ActionFailed, match="returned HTTP 503, expected 200 or 201") as info:
        run_node(_integration(method="GET", endpoint="/status", expected_status=[200, 201]), make_ctx(EVENT))
    assert info.value.retryable


def test_integration_unknown_connection(monkeypatch):
    with pytest.raises(ActionFailed, match="'nowhere' is not defined"):
        run_node(_integration(connection_id="nowhere"), make_ctx(EVENT))


def test_slack_posts_text_to_the_webhook_connection(monkeypatch):
    hook = Receiver(reply="ok")
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_REVIEWS", hook.conn_json())
    try:
        out = run_node(
            {
                "id": "tell_slack",
                "type": "notification",
                "label": "Slack",
                "config": {
                    "channel": "slack",
                    "connection_id": "slack_reviews",
                    "message": "{repository}#{pr_number}: {issues_count} issues",
                },
            },
            make_ctx(EVENT, QUALITY),
        )
    finally:
        hook.close()
    assert json.loads(hook.requests[0]["body"]) == {"text": "acme/app#7: 3 issues"}
    assert out["via"] in ("http-provider", "slack-provider") and out["message"] == "acme/app#7: 3 issues"


def test_email_goes_through_the_smtp_connection(monkeypatch):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": "autopr@example.com",
                    "retry_limit": 0,
                },
            }
        ),
    )
    try:
        out = run_node(
            {
                "id": "mail",
                "type": "notification",
                "label": "Mail",
                "config": {
                    "channel": "email",
                    "to": ["lead@example.com"],
                    "subject": "Review of {repository}",
                    "message": "Score {quality_score}",
                },
            },
            make_ctx(EVENT, QUALITY),
        )
    finally:
        controller.stop()
    [msg] = inbox.messages
    assert msg.rcpt_tos == ["lead@example.com"] and msg.mail_from == "autopr@example.com"
    parsed = email.message_from_bytes(msg.content, policy=email.policy.default)
    assert parsed["Subject"] == "Review of acme/app"
    html_part = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    assert "Score 81.5" in html_part.get_content()
    assert out["to"] == ["lead@example.com"]


@pytest.fixture()
def own_outbox(tmp_path, monkeypatch):
    """An outbox of this test's own: the session's embedded outbox holds what earlier tests' DAG runs left in it."""
    from include.events.outbox import reset_outboxes
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    reset_outboxes()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_outboxes()


def test_dashboard_notification_goes_through_the_outbox_to_the_events_table(db, own_outbox):
    node = {
        "id": "notify",
        "type": "notification",
        "label": "Dash",
        "config": {"channel": "dashboard", "message": "{issues_count} issues on {repository}", "level": "warning"},
    }
    import asyncio

    from include.events.outbox import get_outbox
    from include.events.relay import run_relay

    out = run_node(node, make_ctx(EVENT, QUALITY))
    again = run_node(node, make_ctx(EVENT, QUALITY))  # a retry of the same try: idempotent
    assert out["event_key"] == again["event_key"]

    published: list[dict] = []

    async def relay_until_published() -> None:
        stop = asyncio.Event()

        async def publish(wire: dict) -> None:
            published.append(wire)
            stop.set()

        await asyncio.wait_for(run_relay(publish, stop=stop, outbox=get_outbox(), block_ms=100), timeout=30)

    asyncio.run(relay_until_published())
    assert published[0]["event_type"] == "notification" and published[0]["state"] == "warning"
    with session_scope() as session:
        # Only notifications: the shared platform's sidecar may persist other tests' state events meanwhile.
        [row] = session.scalars(select(ExecutionEvent).where(ExecutionEvent.event_type == "notification")).all()
    assert (row.event_type, row.state, row.project, row.task_id) == ("notification", "warning", "acme", "notify")
    assert row.payload["message"] == "3 issues on acme/app" and row.dag_id == "wf_acme_pr_review"
