"""The sidecar's app factory: each app holds its own state, building one connects to nothing,
and the sidecar's modules import one another in one direction only."""

from __future__ import annotations

import socket
import threading
import uuid

from tests.support.ports import free_port


def _settings(tmp_path, **overrides):
    from include.settings import load_settings

    return load_settings(
        state_dir=str(tmp_path / "state"),
        events_stream=f"autopr-test-factory:{uuid.uuid4().hex[:8]}",
        jwt_secret="factory-tests-" + "x" * 64,
        **overrides,
    )


def test_each_app_has_its_own_state(tmp_path):
    from dashboard_server.server import create_app

    settings = _settings(tmp_path)
    first, second = create_app(settings), create_app(settings)
    assert first.sidecar is not second.sidecar
    assert first.sidecar.fanout is not second.sidecar.fanout
    assert first.sidecar.sio is not second.sidecar.sio
    assert first.sidecar.settings is settings
    assert first.sidecar.namespace == settings.events_stream


def test_building_an_app_with_redis_opens_no_connection(tmp_path):
    """Redis clients connect on first use, so ``server:app`` may be built at import."""
    from dashboard_server.server import create_app

    accepted: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", free_port()))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        app = create_app(_settings(tmp_path, redis_url=f"redis://127.0.0.1:{port}/0"))
        assert app.sidecar.redis is not None
        done.wait(0.5)
    finally:
        done.set()
        thread.join()
        listener.close()
    assert accepted == []


def test_metrics_read_the_app_built_last(tmp_path):
    from dashboard_server import metrics
    from dashboard_server.server import create_app

    settings = _settings(tmp_path)
    create_app(settings)
    latest = create_app(settings)
    latest.sidecar.database_failure = "OperationalError: the database is restarting"
    text = metrics.render().decode()
    assert 'dashboard_failing{component="database"} 1.0' in text
    assert "restarting" not in text  # /metrics is anonymous: component names only
    assert text.count("# TYPE dashboard_failing gauge") == 1


def test_sidecar_modules_import_each_other_in_one_direction():
    import grimp

    graph = grimp.build_graph("dashboard_server")
    modules = sorted(graph.modules)
    loops = [
        (a, b)
        for i, a in enumerate(modules)
        for b in modules[i + 1 :]
        if graph.find_shortest_chain(a, b) and graph.find_shortest_chain(b, a)
    ]
    assert loops == []
