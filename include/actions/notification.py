"""``notification``: tell people about a run — Slack webhook, email, or the live dashboard.

* **slack** — an incoming-webhook POST ``{"text": ...}``.  The Slack provider
  (``apache-airflow-providers-slack``, with its ``SlackWebhookHook``) is used when
  installed; it is not part of this platform's pinned set, so the default path
  is the http provider's ``HttpHook`` on a connection whose host is the webhook
  URL (``connection_id``, default ``slack_webhook``; optional ``endpoint``).
* **email** — the smtp provider's ``SmtpHook`` on an Airflow SMTP connection
  (``connection_id``, default ``smtp_default``), the same hook Airflow's
  ``SmtpNotifier`` sends with.
* **dashboard** — a ``notification`` state event (``state`` = level) handed to
  the events outbox, like the listener's task events: the sidecar's relay
  persists it (monotonic id, idempotency key, replay) and then pushes it live
  to the project's room.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from include.actions.context import ActionFailed, RunContext
from include.actions.templating import render

LEVELS = ("info", "success", "warning", "error")


def _message(node_id: str, config: dict[str, Any], ctx: RunContext) -> str:
    field = "message" if config.get("message") is not None else "template"
    text = render(node_id, field, config.get(field) or "{summary}", ctx).strip()
    if not text:
        text = f"Workflow {ctx.workflow_id} run {ctx.run_id}: node {node_id} finished."
    return text


def _slack(node_id: str, config: dict[str, Any], ctx: RunContext, text: str) -> dict[str, Any]:
    conn_id = config.get("connection_id") or "slack_webhook"
    try:  # the Slack provider, when a deployment installs it
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    except ImportError:
        SlackWebhookHook = None
    if SlackWebhookHook is not None and not config.get("endpoint"):
        try:
            SlackWebhookHook(slack_webhook_conn_id=conn_id).send(text=text)
        except Exception as exc:  # noqa: BLE001
            raise ActionFailed(node_id, f"Slack webhook {conn_id!r} failed: {exc}", retryable=True) from None
        return {"channel": "slack", "connection_id": conn_id, "via": "slack-provider"}

    from airflow.providers.http.hooks.http import HttpHook

    try:
        response = HttpHook(method="POST", http_conn_id=conn_id).run(
            endpoint=config.get("endpoint") or "",
            json={"text": text},
            headers={"Content-Type": "application/json"},
            extra_options={"check_response": False, "timeout": 15},
        )
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ == "AirflowNotFoundException":
            raise ActionFailed(node_id, f"Airflow connection {conn_id!r} (Slack webhook) is not defined") from None
        raise ActionFailed(node_id, f"Slack webhook {conn_id!r} failed: {exc}", retryable=True) from None
    if response.status_code != 200:
        raise ActionFailed(
            node_id,
            f"Slack webhook {conn_id!r} answered HTTP {response.status_code}: {response.text[:200]}",
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    return {"channel": "slack", "connection_id": conn_id, "via": "http-provider"}


def _email(node_id: str, config: dict[str, Any], ctx: RunContext, text: str) -> dict[str, Any]:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    to = config.get("to") or config.get("recipients")
    if isinstance(to, str):
        to = [to]
    if not to:
        raise ActionFailed(node_id, "config.to: at least one recipient is required for email notifications")
    conn_id = config.get("connection_id") or "smtp_default"
    subject = render(node_id, "subject", config.get("subject") or "AutoPR: {repository} {dag_id}", ctx)
    body = "<pre>" + html.escape(text) + "</pre>"
    try:
        with SmtpHook(smtp_conn_id=conn_id) as smtp:
            smtp.send_email_smtp(to=list(to), subject=subject, html_content=body, from_email=config.get("from_email"))
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ == "AirflowNotFoundException":
            raise ActionFailed(node_id, f"Airflow connection {conn_id!r} (SMTP) is not defined") from None
        raise ActionFailed(node_id, f"email via {conn_id!r} failed: {exc}", retryable=True) from None
    return {"channel": "email", "connection_id": conn_id, "to": list(to), "subject": subject}


def _dashboard(node_id: str, config: dict[str, Any], ctx: RunContext, text: str) -> dict[str, Any]:
    from include.events.outbox import get_outbox
    from include.events.schema import StateEvent

    level = config.get("level", "info")
    if level not in LEVELS:
        raise ActionFailed(node_id, f"config.level: {level!r} is not one of {', '.join(LEVELS)}")
    title = render(node_id, "title", config.get("title") or "", ctx) if config.get("title") else None
    event = StateEvent(
        event_type="notification",
        project=ctx.project,
        dag_id=ctx.dag_id,
        run_id=ctx.run_id,
        task_id=node_id,
        state=level,
        occurred_at=datetime.now(UTC),
        payload={
            "message": text,
            "title": title,
            "node_id": node_id,
            "workflow_id": ctx.workflow_id,
            "workflow_version": ctx.workflow_version,
            "repository": (ctx.event or {}).get("repository"),
            "pr_number": (ctx.event or {}).get("pr_number"),
        },
    )
    outbox = get_outbox()
    outbox.put(event)  # never raises; buffered locally when Redis is down
    outbox.flush(timeout=2.0)  # a task process may exit right after this node
    return {"channel": "dashboard", "event_key": event.key(), "level": level}


CHANNELS = {"slack": _slack, "email": _email, "dashboard": _dashboard}


def notification(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    channel = config.get("channel")
    if channel not in CHANNELS:
        raise ActionFailed(node_id, f"config.channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    text = _message(node_id, config, ctx)
    return {**CHANNELS[channel](node_id, config, ctx, text), "message": text}
