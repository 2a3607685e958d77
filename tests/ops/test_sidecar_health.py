"""The sidecar's /healthz and /metrics tell anonymous callers states and numbers, never hosts or errors.

A real ``python -m dashboard_server`` whose app database is a PostgreSQL
address nobody listens on: its sweep fails every second and its relay fails
to persist an event put in the (embedded) outbox, so both record the
driver's error text, which names the host and port.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from include.auth.tokens import mint_token
from tests.dashboard.conftest import make_sidecar, task_event, unique

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PASSWORD = "hunter2-not-for-anyone"
UNREACHABLE = f"postgresql+psycopg2://autopr:{PASSWORD}@127.0.0.1:1/autopr"
#: What an error text would leak: the address, the URL's parts, the driver's words.
LEAKS = ("127.0.0.1", ":1/", "port 1", "postgresql", "psycopg", PASSWORD, "autopr:", "OperationalError",
         "Connection refused", "connection to server")


def assert_nothing_leaks(body: str, what: str) -> None:
    for needle in LEAKS:
        assert needle not in body, f"{what} shows {needle!r}:\n{body[:3000]}"
    # the default PostgreSQL port, as a number of its own (not inside a counter's digits)
    assert not re.search(r"(?<![\d.])5432(?![\d.])", body), f"{what} shows 5432:\n{body[:3000]}"


@pytest.fixture(scope="module")
def broken_sidecar():
    side = make_sidecar(UNREACHABLE).start()
    side.put(task_event(unique("ops"), 1))  # the relay must try (and fail) to persist something
    yield side
    side.stop()


def _token(side, **kw) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token('ops-viewer', settings=side.settings, **kw)}"}


def _wait_degraded(side, needed: set[str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(side.url + "/healthz", headers=_token(side), timeout=5).json()
        if needed <= set(body["failing"]) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_authenticated_healthz_says_why_anonymous_only_what(broken_sidecar):
    side = broken_sidecar
    detailed = _wait_degraded(side, {"database", "relay"})
    assert detailed["status"] == "degraded" and {"database", "relay"} <= set(detailed["failing"]), detailed
    # the caller with a token sees the driver's reason, address included
    assert "port 1" in detailed["reasons"]["database"], detailed["reasons"]
    assert "OperationalError" in detailed["reasons"]["relay"], detailed["reasons"]
    assert detailed["relay"]["errors"] >= 1 and detailed["relay"]["last_error"]

    anonymous = httpx.get(side.url + "/healthz", timeout=5)
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["status"] == "degraded" and {"database", "relay"} <= set(body["failing"])
    assert "reasons" not in body and "last_error" not in body["relay"]
    assert body["relay"]["errors"] >= 1  # counters stay public
    assert_nothing_leaks(anonymous.text, "anonymous /healthz")


def test_a_bad_or_expired_token_gets_the_anonymous_view(broken_sidecar):
    side = broken_sidecar
    _wait_degraded(side, {"database"})
    wrong = side.settings.model_copy(update={"jwt_secret": "not-the-secret-" + "x" * 64})
    for headers in ({"Authorization": f"Bearer {mint_token('mallory', settings=wrong)}"},
                    _token(side, ttl_seconds=-30),
                    {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        r = httpx.get(side.url + "/healthz", headers=headers, timeout=5)
        assert r.status_code == 200 and "reasons" not in r.json()
        assert_nothing_leaks(r.text, f"/healthz with {headers['Authorization'][:12]}...")


def test_metrics_are_anonymous_and_carry_no_error_text(broken_sidecar):
    side = broken_sidecar
    _wait_degraded(side, {"database", "relay"})
    r = httpx.get(side.url + "/metrics", timeout=5)
    assert r.status_code == 200
    text = r.text
    assert_nothing_leaks(text, "/metrics")
    assert "last_error" not in text
    errors = re.search(r"^dashboard_relay_errors_total (\S+)$", text, re.MULTILINE)
    assert errors and float(errors.group(1)) >= 1, text[-2000:]
    assert re.search(r'^dashboard_failing\{component="database"\} 1\.0$', text, re.MULTILINE), text[-2000:]
    assert re.search(r"^dashboard_events_relayed_total 0\.0$", text, re.MULTILINE), text[-2000:]  # nothing got through



def test_healthy_sidecar_counts_events_relayed(pg_url):
    side = make_sidecar(pg_url).start()
    try:
        for n in range(3):
            side.put(task_event(unique("ops"), n))
        deadline = time.monotonic() + 30
        relayed = 0.0
        while relayed < 3 and time.monotonic() < deadline:
            found = re.search(r"^dashboard_events_relayed_total (\S+)$", httpx.get(side.url + "/metrics").text, re.MULTILINE)
            relayed = float(found.group(1)) if found else 0.0
            time.sleep(0.2)
        assert relayed >= 3
        body = httpx.get(side.url + "/healthz", headers=_token(side), timeout=5).json()
        assert body["status"] == "ok" and body["failing"] == [] and body["reasons"] == {}
        assert body["relay"]["published"] >= 3
    finally:
        side.stop()
