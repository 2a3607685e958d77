"""Benchmark: events from the listener's hand-off to 1,000 live Socket.IO clients.

    .venv/bin/python bench/bench_dashboard.py [--load a|b|both] [--seconds 20] [--redis-url URL]
        [--sidecars N] [--clients N]

What runs, each in its own process(es), all on this machine:
* the sidecar, started as the run command starts it (``python -m dashboard_server``),
  with its relay reading the outbox, persisting to the app database and fanning out;
  with ``--sidecars N`` (Redis required), N of them on one Redis stream, channel and
  database, as instances behind a load balancer: their relays share the stream, each
  fans out to its own clients and forwards to the others over pub/sub;
* 1,000 Socket.IO clients (``--clients``) in Node processes (bench/dashboard_clients,
  socket.io-client from npm: a Node socket costs far less CPU than a Python AsyncClient,
  and the clients share the same two cores as the server), spread evenly over the
  sidecars;
* this script, the publisher: it puts StateEvents into the outbox exactly as the Airflow
  listener does (``get_outbox(settings).put``), at a fixed rate.

Loads (the issue's): (a) 1,000 clients over 50 projects, 20 events/s (400 deliveries/s);
(b) 1,000 clients in ONE project, 5 events/s (5,000 deliveries/s).
Latency is end to end: outbox.put (wall clock in the event payload) -> client receive.
The app database is a fresh PostgreSQL database when 127.0.0.1:5432 answers, else SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CLIENT_DIR = REPO / "bench" / "dashboard_clients"
N_CLIENTS = 1000
NODE_PROCS = 2
PG_ADMIN = os.environ.get("AUTOPR_BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_node_clients() -> None:
    if not (CLIENT_DIR / "node_modules" / "socket.io-client").exists():
        print("installing socket.io-client for the load clients (npm ci) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CLIENT_DIR, check=True)


def make_database(state: Path) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"autopr_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name

        def drop() -> None:
            from include.db.session import reset_engine

            reset_engine()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        return url, drop
    except Exception as exc:  # noqa: BLE001 - fall back to the embedded default
        print(f"PostgreSQL not available ({exc.__class__.__name__}); using SQLite", flush=True)
        return f"sqlite:///{state / 'autopr.db'}", lambda: None


def seed(url: str, projects: list[str], n_clients: int = N_CLIENTS) -> list[tuple[str, str]]:
    """Projects and their members spread round-robin; returns (username, project) per client."""
    from include.db.migrate import upgrade
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role

    upgrade(url)
    pairs = [(f"user{i:04d}", projects[i % len(projects)]) for i in range(n_clients)]
    with session_scope(url) as session:
        ids = {}
        for slug in set(projects):
            p = Project(slug=slug, name=slug)
            session.add(p)
            session.flush()
            ids[slug] = p.id
        session.add_all(ProjectMember(project_id=ids[p], username=u, role=Role.viewer) for u, p in pairs)
    return pairs


class Sampler(threading.Thread):
    """Peak RSS (of the largest) and CPU (summed) of the sidecars while the load runs."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.procs = [psutil.Process(pid) for pid in pids]
        self.peak_rss = 0
        self.running = True
        self.cpu: list[float] = []

    def cpu_seconds(self) -> float:
        return sum(t.user + t.system for t in (proc.cpu_times() for proc in self.procs))

    def run(self) -> None:
        for proc in self.procs:
            proc.cpu_percent(None)
        while self.running:
            try:
                self.peak_rss = max(self.peak_rss, *(proc.memory_info().rss for proc in self.procs))
                self.cpu.append(sum(proc.cpu_percent(None) for proc in self.procs))
            except psutil.Error:
                return
            time.sleep(0.5)


def histogram(metrics_text: str, name: str, label: str = "") -> dict:
    """count, mean and bucketed p50/p99/max (upper bounds, ms) of one Prometheus histogram series.

    ``label`` selects a series, e.g. 'stage="persist"'.
    """
    buckets, total, count = [], 0.0, 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name) or (label and label not in line):
            continue
        if line.startswith(name + "_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
        elif line.startswith(name + "_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count"):
            count = float(line.rsplit(" ", 1)[1])
    if not count:
        return {"count": 0}

    def upper(q: float) -> float:
        return next((le * 1000 for le, c in buckets if c >= q * count), float("inf"))

    return {
        "count": int(count),
        "mean": round(total / count * 1000, 2),
        "p50_le": upper(0.5),
        "p99_le": upper(0.99),
        "max_le": upper(1.0),
    }


def server_latency(metrics_text: str) -> dict:
    """Mean and bucketed p50/p99 of dashboard_delivery_latency_seconds from /metrics."""
    h = histogram(metrics_text, "dashboard_delivery_latency_seconds")
    return {k: h[k] for k in ("mean", "p50_le", "p99_le")} if h["count"] else {}


def breakdown(metrics_text: str) -> dict:
    """Where the sidecar's time went during the load: relay stages, GC pauses and event-loop lag (ms)."""
    out = {
        f"relay_{stage}": histogram(metrics_text, "dashboard_relay_stage_seconds", f'stage="{stage}"')
        for stage in ("outbox", "persist", "publish")
    }
    for gen in ("0", "1", "2"):
        out[f"gc_gen{gen}"] = histogram(metrics_text, "dashboard_gc_pause_seconds", f'generation="{gen}"')
    out["loop_lag"] = histogram(metrics_text, "dashboard_loop_lag_seconds")
    return out


def metrics_delta(before: str, after: str) -> str:
    """``after`` with every sample minus its value in ``before``: the histograms of the load window only."""
    base = {}
    for line in before.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            base[key] = float(value)
    lines = []
    for line in after.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            line = f"{key} {float(value) - base.get(key, 0.0)}"
        lines.append(line)
    return "\n".join(lines)


def metrics_sum(texts: list[str]) -> str:
    """Several sidecars' metrics as one: every sample summed over the instances (histograms merge)."""
    totals: dict[str, float] = {}
    for text in texts:
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                totals[key] = totals.get(key, 0.0) + float(value)
    return "\n".join(f"{key} {value}" for key, value in totals.items())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_load(
    name: str,
    projects: list[str],
    rate: float,
    seconds: float,
    redis_url: str | None,
    fanout: str = "lean",
    gc_freeze_interval: float | None = None,
    sidecars: int = 1,
    n_clients: int = N_CLIENTS,
) -> dict:
    state = Path(tempfile.mkdtemp(prefix=f"autopr-bench-{name}-"))
    db_url, drop_db = make_database(state)
    ports = [free_port() for _ in range(sidecars)]
    secret = uuid.uuid4().hex * 2
    stream = f"autopr-bench:{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPR_")}
    env.update(
        AUTOPR_STATE_DIR=str(state),
        AUTOPR_DATABASE_URL=db_url,
        AUTOPR_JWT_SECRET=secret,
        AUTOPR_EVENTS_STREAM=stream,
        AUTOPR_DASHBOARD_CONNECT_BURST="5000",
        AUTOPR_DASHBOARD_CONNECT_RATE="1000",
        AUTOPR_DASHBOARD_FANOUT=fanout,
    )
    if redis_url:
        env["AUTOPR_REDIS_URL"] = redis_url
    if gc_freeze_interval is not None:
        env["AUTOPR_DASHBOARD_GC_FREEZE_INTERVAL"] = str(gc_freeze_interval)
    from include.auth.tokens import mint_token
    from include.events.outbox import get_outbox
    from include.events.schema import StateEvent
    from include.settings import load_settings

    settings = load_settings(
        state_dir=state,
        database_url=db_url,
        jwt_secret=secret,
        redis_url=redis_url,
        events_stream=stream,
        dashboard_port=ports[0],
    )
    pairs = seed(db_url, projects, n_clients)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    procs: list[subprocess.Popen] = []
    nodes: list[subprocess.Popen] = []
    try:
        for k, port in enumerate(ports):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dashboard_server"],
                    cwd=REPO,
                    env={**env, "AUTOPR_DASHBOARD_PORT": str(port)},
                    stdout=open(state / f"sidecar{k}.log", "wb"),  # noqa: SIM115 - lives as long as the process
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 90
        for k, url in enumerate(urls):
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or procs[k].poll() is not None:
                    raise RuntimeError("sidecar did not start:\n" + (state / f"sidecar{k}.log").read_text()[-2000:])
                time.sleep(0.2)
        specs = [{"token": mint_token(u, ttl_seconds=3600, settings=settings), "project": p} for u, p in pairs]
        # Node processes: at least NODE_PROCS, one or more per sidecar; clients spread evenly over them.
        n_nodes = max(NODE_PROCS, sidecars)
        t0 = time.monotonic()
        for k in range(n_nodes):
            node = subprocess.Popen(
                ["node", "clients.js", urls[k % sidecars]],
                cwd=CLIENT_DIR,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=open(state / f"node{k}.log", "w"),  # noqa: SIM115 - lives as long as the process
            )
            node.stdin.write(json.dumps(specs[k::n_nodes]) + "\n")
            node.stdin.flush()
            nodes.append(node)
        for node in nodes:
            line = node.stdout.readline()
            if not line.startswith("READY"):
                raise RuntimeError(f"load clients failed: {line!r}; see {state}/node*.log")
        print(f"  {len(pairs)} clients connected and joined in {time.monotonic() - t0:.1f}s", flush=True)
        time.sleep(1.0)
        sampler = Sampler([proc.pid for proc in procs])
        sampler.start()
        cpu_before = sampler.cpu_seconds()
        load_before = os.getloadavg()[0]
        metrics_before = [httpx.get(f"{url}/metrics", timeout=10).text for url in urls]
        if redis_url:
            import redis  # noqa: F401 - the listener imports it when the plugin loads, before a task runs
        outbox = get_outbox(settings)
        n_events = int(rate * seconds)
        per_project: dict[str, int] = {}
        load_started_at = time.time()
        start = time.perf_counter()
        for i in range(n_events):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            project = projects[i % len(projects)]
            per_project[project] = per_project.get(project, 0) + 1
            outbox.put(
                StateEvent(
                    event_type="task_instance",
                    project=project,
                    dag_id=f"bench_{name}",
                    run_id=f"run_{stream}",
                    task_id=f"t{i}",
                    try_number=1,
                    state="success",
                    occurred_at=datetime.now(UTC),
                    payload={"t": time.time()},
                )
            )
        publish_s = time.perf_counter() - start
        time.sleep(3.0)  # drain
        sampler.running = False
        healths = [httpx.get(f"{url}/healthz", timeout=10).json() for url in urls]
        frames = {path: sum((h.get("frames") or {}).get(path, 0) for h in healths) for path in ("direct", "queued")}
        metrics_window = metrics_sum(
            [
                metrics_delta(before, httpx.get(f"{url}/metrics", timeout=10).text)
                for url, before in zip(urls, metrics_before, strict=True)
            ]
        )
        server_side = server_latency(metrics_window)
        cpu_used = sampler.cpu_seconds() - cpu_before
        members = {p: sum(1 for _, q in pairs if q == p) for p in set(projects)}
        expected = sum(n * members[p] for p, n in per_project.items())
        reports = []
        for node in nodes:
            node.stdin.write("REPORT\n")
            node.stdin.flush()
            reports.append(json.loads(node.stdout.readline()))
        latencies = [x for r in reports for x in r["latencies"]]
        return {
            "load": name,
            "sidecars": sidecars,
            "clients": len(pairs),
            "events_sent": n_events,
            "publish_seconds": round(publish_s, 2),
            "deliveries_expected": expected,
            "deliveries": sum(r["deliveries"] for r in reports),
            "duplicates": sum(r["dups"] for r in reports),
            "reconnects": sum(r["reconnects"] for r in reports),
            "p50_ms": round(pct(latencies, 0.50), 1),
            "p99_ms": round(pct(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1) if latencies else None,
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "sidecar_peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
            "sidecar_cpu_mean_pct": round(statistics.fmean(sampler.cpu), 1) if sampler.cpu else None,
            # CPU the sidecars spent per delivered frame: comparable across runs even when
            # other work on the machine steals cores (then latency is not).
            "sidecar_cpu_us_per_delivery": round(cpu_used / max(1, expected) * 1e6, 1),
            "machine_load_avg_1m": round(load_before, 2),
            "database": db_url.split(":", 1)[0],
            "redis": bool(redis_url),
            "fanout": fanout,
            "frames_by_path": frames,
            # outbox.put -> frames handed to the sockets, from the sidecars' own histograms: the rest of
            # the end-to-end latency is the kernel, the clients and the CPU they wait for
            "server_side_ms": server_side,
            # the same window, per stage (relay: outbox wait, persist, publish; GC pauses; loop lag)
            "breakdown_ms": breakdown(metrics_window),
            "gc_policy": [h.get("gc") for h in healths],
            # events that had to wait for a lower id from another instance (see fanout.Sequencer)
            "order": [h.get("order") for h in healths],
            "load_started_at": round(load_started_at, 3),
        }
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_db()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", choices=["a", "b", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="publishing time per load")
    parser.add_argument("--redis-url", default=None, help="run the sidecar with Redis (Stream outbox + Redis manager)")
    parser.add_argument(
        "--sidecars",
        type=int,
        default=1,
        help="sidecar instances on one Redis, clients spread over them (needs --redis-url)",
    )
    parser.add_argument("--clients", type=int, default=N_CLIENTS, help="Socket.IO clients in all")
    parser.add_argument(
        "--fanout",
        choices=["lean", "library"],
        default="lean",
        help="library: python-socketio's emit(room=...) path, to compare against",
    )
    parser.add_argument(
        "--gc-freeze-interval",
        type=float,
        default=None,
        help="the sidecar's AUTOPR_DASHBOARD_GC_FREEZE_INTERVAL (0: Python's default collector, to compare against)",
    )
    args = parser.parse_args()
    if args.sidecars > 1 and not args.redis_url:
        parser.error("--sidecars N > 1 needs --redis-url: the instances share the event stream and pub/sub")
    ensure_node_clients()
    loads = {
        "a": ([f"proj-{i:02d}" for i in range(50)], 20.0, 100.0),
        "b": (["one-big-project"], 5.0, 250.0),
    }
    results = []
    for name in ("a", "b") if args.load == "both" else (args.load,):
        projects, rate, target = loads[name]
        print(
            f"load ({name}): {args.clients} clients, {len(set(projects))} project(s), {rate:g} events/s, "
            f"{args.seconds:g}s, redis={'yes' if args.redis_url else 'no'}, sidecars={args.sidecars}",
            flush=True,
        )
        result = run_load(
            name,
            projects,
            rate,
            args.seconds,
            args.redis_url,
            args.fanout,
            args.gc_freeze_interval,
            sidecars=args.sidecars,
            n_clients=args.clients,
        )
        result["target_p99_ms"] = target
        result["ok"] = (
            result["deliveries"] == result["deliveries_expected"]
            and result["duplicates"] == 0
            and result["p99_ms"] < target
        )
        print("  " + json.dumps(result), flush=True)
        results.append(result)
    print(
        "\nload  sent  delivered/expected  dups  p50 ms  p99 ms (target)  max ms  RSS MB  CPU%  us/delivery  loadavg  ok"
    )
    for r in results:
        print(
            f"({r['load']})  {r['events_sent']:>5}  {r['deliveries']:>8}/{r['deliveries_expected']:<8}  "
            f"{r['duplicates']:>4}  {r['p50_ms']:>6}  {r['p99_ms']:>6} ({r['target_p99_ms']:g})  {r['max_ms']:>6}  "
            f"{r['sidecar_peak_rss_mb']:>6}  {r['sidecar_cpu_mean_pct']:>5}  {r['sidecar_cpu_us_per_delivery']:>8}  "
            f"{r['machine_load_avg_1m']:>6}  {r['ok']}"
        )
    print("\nwhere the time went in the sidecar, per load (ms; bucketed p50/p99/max are histogram upper bounds)")
    print("load  stage            count     mean   p50<=   p99<=   max<=")
    for r in results:
        for stage, h in r["breakdown_ms"].items():
            if h["count"]:
                print(
                    f"({r['load']})  {stage:<14} {h['count']:>7} {h['mean']:>8} {h['p50_le']:>7g} {h['p99_le']:>7g} "
                    f"{h['max_le']:>7g}"
                )


if __name__ == "__main__":
    main()
