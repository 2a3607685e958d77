"""Airflow's own metrics: the settings become [metrics] options, and a real Airflow process sends them.

StatsD is tested with a real UDP socket as the server, OpenTelemetry with a
real HTTP server decoding OTLP protobuf; the sender is an ``airflow scheduler``
started with exactly the environment the run command gives it
(``include.launcher.airflow_env.airflow_env``), stopped once metrics arrived.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from include.launcher.airflow_env import airflow_env
from include.settings import SettingsError, load_settings
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(300)

HAS_STATSD = importlib.util.find_spec("statsd") is not None


def _settings(tmp_path: Path, **values):
    return load_settings(
        state_dir=tmp_path / "state", workflows_bundle_url="none",
        airflow_log_server_ports=(free_port(), free_port(), free_port()), **values,
    )


def test_metrics_off_by_default_adds_no_metrics_options(tmp_path):
    env = airflow_env(_settings(tmp_path), base={})
    assert not [k for k in env if k.startswith(("AIRFLOW__METRICS__", "OTEL_"))]


def test_otel_choice_becomes_standard_otel_variables_and_given_ones_win(tmp_path):
    endpoint = "http://collector.internal:4318/v1/metrics"
    settings = _settings(tmp_path, airflow_metrics="otel", airflow_otel_endpoint=endpoint,
                         airflow_metrics_prefix="autopr_airflow")
    env = airflow_env(settings, base={})
    assert env["AIRFLOW__METRICS__OTEL_ON"] == "True" and env["AIRFLOW__METRICS__STATSD_ON"] == "False"
    assert env["AIRFLOW__METRICS__OTEL_PREFIX"] == "autopr_airflow"
    assert env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == endpoint
    given = airflow_env(settings, base={"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://other:4318/v1/metrics",
                                        "AIRFLOW__METRICS__OTEL_PREFIX": "mine"})
    assert given["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == "http://other:4318/v1/metrics"
    assert given["AIRFLOW__METRICS__OTEL_PREFIX"] == "mine"


def test_otel_without_any_endpoint_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(SettingsError, match="AUTOPR_AIRFLOW_OTEL_ENDPOINT"):
        airflow_env(_settings(tmp_path, airflow_metrics="otel"), base={})
    # the standard variable is enough
    env = airflow_env(_settings(tmp_path, airflow_metrics="otel"), base={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert env["AIRFLOW__METRICS__OTEL_ON"] == "True" and "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" not in env


def test_unknown_metrics_choice_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match="AUTOPR_AIRFLOW_METRICS"):
        _settings(tmp_path, airflow_metrics="prometheus")


@pytest.mark.skipif(HAS_STATSD, reason="the statsd package is installed")
def test_statsd_without_the_statsd_package_is_refused(tmp_path):
    # Airflow would quietly send nothing (it logs one line per process and falls back to no metrics).
    with pytest.raises(SettingsError, match="statsd package"):
        airflow_env(_settings(tmp_path, airflow_metrics="statsd"), base={})


def _scheduler(settings, base: dict[str, str], log_path: Path) -> subprocess.Popen:
    env = airflow_env(settings, base=base)
    airflow = Path(env["PATH"].split(os.pathsep)[0]) / "airflow"
    with open(log_path, "ab") as log:
        return subprocess.Popen([str(airflow), "scheduler"], env=env, stdout=log, stderr=log, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _base_env() -> dict[str, str]:
    base = dict(os.environ)
    base["AIRFLOW__CORE__PARALLELISM"] = "1"  # the scheduler only has to emit metrics, not run tasks
    return base


def _wait_for(predicate, proc: subprocess.Popen, log_path: Path, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"airflow scheduler exited ({proc.returncode}):\n{log_path.read_text()[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"no Airflow metrics within {timeout}s:\n{log_path.read_text()[-4000:]}")


@pytest.mark.integration
@pytest.mark.skipif(not HAS_STATSD, reason="the statsd package (Airflow's statsd extra) is not installed")
def test_scheduler_sends_statsd_metrics_to_the_configured_udp_server(tmp_path, airflow_db):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[str] = []
    settings = _settings(tmp_path, airflow_metrics="statsd", airflow_statsd_host="127.0.0.1",
                         airflow_statsd_port=server.getsockname()[1])
    log_path = tmp_path / "scheduler.log"
    proc = _scheduler(settings, _base_env(), log_path)

    def got() -> list[str]:
        try:
            received.extend(server.recv(65536).decode().splitlines())
        except TimeoutError:
            pass
        return [line for line in received if line.startswith("airflow.")]

    try:
        lines = _wait_for(lambda: [line for line in got() if line.startswith("airflow.scheduler")], proc, log_path)
    finally:
        _stop(proc)
        server.close()
    assert lines, received[:20]


class _OtlpReceiver(BaseHTTPRequestHandler):
    """The metrics endpoint of an OpenTelemetry collector (OTLP over HTTP, protobuf)."""

    names: set[str]
    paths: list[str]

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        self.paths.append(self.path)
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                self.names.update(metric.name for metric in scope.metrics)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.integration
def test_scheduler_exports_otel_metrics_to_the_configured_collector(tmp_path, airflow_db):
    handler = type("Receiver", (_OtlpReceiver,), {"names": set(), "paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/metrics"
    settings = _settings(tmp_path, airflow_metrics="otel", airflow_otel_endpoint=endpoint)
    base = _base_env()
    base["OTEL_METRIC_EXPORT_INTERVAL"] = "1000"  # standard OTel variable: export every second, not every minute
    log_path = tmp_path / "scheduler.log"
    proc = _scheduler(settings, base, log_path)
    try:
        # the first export may come from start-up code; wait for the scheduler loop's own metrics
        names = _wait_for(lambda: {n for n in handler.names if n.startswith("airflow.scheduler")}, proc, log_path)
    finally:
        _stop(proc)
        server.shutdown()
    assert handler.paths and set(handler.paths) == {"/v1/metrics"}
    assert all(name.startswith("airflow.") for name in handler.names), sorted(handler.names)[:30]
    print("Airflow's scheduler metrics over OTLP:", sorted(names))
