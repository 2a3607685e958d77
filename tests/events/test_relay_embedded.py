"""The embedded default end to end: nothing configured → SQLite outbox → relay → SQLite app database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from include.events.schema import StateEvent


def test_embedded_defaults_persist_then_publish(event_settings, tmp_path):
    from include.db.migrate import upgrade
    from include.db.session import session_scope
    from include.events.outbox import SQLiteOutbox, get_outbox
    from include.events.relay import run_relay
    from include.events.store import events_after

    db_url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = event_settings(database_url=db_url)
    upgrade(db_url)
    outbox = get_outbox(settings)
    assert isinstance(outbox, SQLiteOutbox)
    for state in ("running", "success"):
        outbox.put(
            StateEvent(
                event_type="task_instance",
                project="alpha",
                dag_id="d",
                run_id="r",
                task_id="t",
                try_number=1,
                state=state,
                occurred_at=datetime.now(UTC),
            )
        )
    outbox.put(
        StateEvent(
            event_type="task_instance",
            project="alpha",
            dag_id="d",
            run_id="r",
            task_id="t",
            try_number=1,
            state="running",
            occurred_at=datetime.now(UTC),
        )
    )  # duplicate
    published: list[dict] = []
    seen_in_db_at_publish: list[bool] = []

    async def publish(wire):
        with session_scope(db_url) as session:  # persisted BEFORE published
            seen_in_db_at_publish.append(any(w["id"] == wire["id"] for w in events_after(session, ["alpha"], 0, 10)))
        published.append(wire)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(run_relay(publish, settings=settings, stop=stop, block_ms=50))
        for _ in range(200):
            if outbox.backlog() == 0 and len(published) >= 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert [(w["id"], w["state"]) for w in published] == [(1, "running"), (2, "success")]
    assert seen_in_db_at_publish == [True, True]
    assert outbox.backlog() == 0
