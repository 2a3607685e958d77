"""Benchmark: events from the listener's hand-off to thousands of live Socket.IO clients, beside Node.

    .venv/bin/python bench/bench_dashboard.py [--load a|b|both] [--seconds 20] [--redis-url URL]
        [--sidecars N] [--clients N[,N...]] [--no-reference]

What runs, each in its own process(es), all on this machine:
* the sidecar, started as the run command starts it (``python -m dashboard_server``),
  with its relay reading the outbox, persisting to the app database and fanning out;
  with ``--sidecars N`` (Redis required), N of them on one Redis stream, channel and
  database, as instances behind a load balancer: their relays share the stream, each
  fans out to its own clients and forwards to the others over pub/sub;
* the Node reference (bench/dashboard_clients/reference_server.js, socket.io 4 from npm):
  the same protocol done the way socket.io's documentation does it (rooms, ``io.to(room).emit``),
  without the database; each client count runs against it first, in the same run, so the
  sidecar's connect+join time and latency are compared with Node's under the same load;
* the Socket.IO clients (``--clients``; a comma-separated list runs each size in turn) in Node
  processes (bench/dashboard_clients/clients.js, socket.io-client from npm: a Node socket costs
  far less CPU than a Python AsyncClient, and the clients share the same two cores as the
  server), spread evenly over the sidecars;
* this script, the publisher: it puts StateEvents into the outbox exactly as the Airflow
  listener does (``get_outbox(settings).put``), at a fixed rate (to the Node reference: one
  JSON line per event on its stdin).

Loads (the issue's): (a) the clients over 50 projects, 20 events/s;
(b) all clients in ONE project, 5 events/s (at 10,000 clients, 50,000 deliveries/s).
Printed per client count and server: connect+join time of all clients (from starting the
client processes to every join acknowledged), delivered/expected, lost, duplicates,
reconnects, latency p50/p99/max. Latency is end to end: outbox.put (wall clock in the
event payload) -> client receive. The sidecar passes when nothing is lost or doubled, no
client reconnected, p99 is within the load's target and its connect+join took at most
twice Node's. The app database is a fresh PostgreSQL database when 127.0.0.1:5432
answers, else SQLite. The open-file limit is raised to what the largest run needs.
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
    if not all((CLIENT_DIR / "node_modules" / pkg).exists() for pkg in ("socket.io-client", "socket.io")):
        print(
            "installing socket.io-client and socket.io for the load clients and the reference (npm ci) ...", flush=True
        )
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


def raise_fd_limit(needed: int) -> None:
    """Every socket is a file descriptor in the server and in a client process, all children of this one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    print(f"open-file limit raised from {soft} to {target} (needed {needed})", flush=True)
    if target < needed:
        print(f"  WARNING: the hard limit {hard} is below {needed}: raise it (ulimit -Hn) as root", flush=True)


def read_line(proc: subprocess.Popen, timeout: float, what: str) -> str:
    """The next stdout line of ``proc``, or a RuntimeError after ``timeout`` seconds (a client that never joins)."""
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not out:
        raise RuntimeError(f"{what}: nothing after {timeout:.0f}s")
    return out[0]


def start_sidecars(env: dict, ports: list[int], state: Path) -> list[subprocess.Popen]:
    procs = []
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
    for k, port in enumerate(ports):
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or procs[k].poll() is not None:
                raise RuntimeError("sidecar did not start:\n" + (state / f"sidecar{k}.log").read_text()[-2000:])
            time.sleep(0.2)
    return procs


def start_reference(secret: str, port: int, state: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["node", "reference_server.js", str(port)],
        cwd=CLIENT_DIR,
        env={**os.environ, "AUTOPR_JWT_SECRET": secret},
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(state / "reference.log", "w"),  # noqa: SIM115 - lives as long as the process
    )
    line = read_line(proc, 30, "Node reference server")
    if not line.startswith("LISTENING"):
        raise RuntimeError(f"Node reference server failed: {line!r}; see {state}/reference.log")
    return proc


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
    server: str = "sidecar",
) -> dict:
    """One load against the sidecar(s) (``server="sidecar"``) or the Node reference (``"node"``)."""
    state = Path(tempfile.mkdtemp(prefix=f"autopr-bench-{name}-"))
    reference = server == "node"
    db_url, drop_db = (f"sqlite:///{state / 'unused.db'}", lambda: None) if reference else make_database(state)
    sidecars = 1 if reference else sidecars
    ports = [free_port() for _ in range(sidecars)]
    secret = uuid.uuid4().hex * 2
    stream = f"autopr-bench:{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPR_")}
    env.update(
        AUTOPR_STATE_DIR=str(state),
        AUTOPR_DATABASE_URL=db_url,
        AUTOPR_JWT_SECRET=secret,
        AUTOPR_EVENTS_STREAM=stream,
        # every client connects from 127.0.0.1: the per-address connect limit must let them all in
        AUTOPR_DASHBOARD_CONNECT_BURST=str(max(5000, 2 * n_clients)),
        AUTOPR_DASHBOARD_CONNECT_RATE=str(max(1000, n_clients)),
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
    if reference:
        pairs = [(f"user{i:04d}", projects[i % len(projects)]) for i in range(n_clients)]
    else:
        pairs = seed(db_url, projects, n_clients)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    procs: list[subprocess.Popen] = []
    nodes: list[subprocess.Popen] = []
    try:
        if reference:
            procs.append(start_reference(settings.resolved_jwt_secret(), ports[0], state))
        else:
            procs = start_sidecars(env, ports, state)
        specs = [{"token": mint_token(u, ttl_seconds=3600, settings=settings), "project": p} for u, p in pairs]
        # Node processes: at least NODE_PROCS, one or more per sidecar; clients spread evenly over them.
        n_nodes = max(NODE_PROCS, sidecars)
        servers = [psutil.Process(proc.pid) for proc in procs]
        join_cpu_before = sum(t.user + t.system for t in (p.cpu_times() for p in servers))
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
        join_timeout = 120 + n_clients / 20
        for node in nodes:
            try:
                line = read_line(node, max(1.0, join_timeout - (time.monotonic() - t0)), "clients never all joined")
            except RuntimeError as exc:
                line = str(exc)
            if not line.startswith("READY"):
                logs = "".join(f"\n{path.name}: {path.read_text()[-600:]}" for path in sorted(state.glob("*.log")))
                raise RuntimeError(f"load clients failed: {line!r}{logs}")
        connect_join_s = time.monotonic() - t0
        # the server's own CPU for the connects and joins: comparable even when other work steals the cores
        join_cpu = sum(t.user + t.system for t in (p.cpu_times() for p in servers)) - join_cpu_before
        print(
            f"  [{server}] {len(pairs)} clients connected and joined in {connect_join_s:.1f}s "
            f"(server CPU {join_cpu / len(pairs) * 1e3:.2f} ms per client; load avg {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        time.sleep(1.0)
        sampler = Sampler([proc.pid for proc in procs])
        sampler.start()
        cpu_before = sampler.cpu_seconds()
        load_before = os.getloadavg()[0]
        metrics_before = [] if reference else [httpx.get(f"{url}/metrics", timeout=120).text for url in urls]
        if redis_url and not reference:
            import redis  # noqa: F401 - the listener imports it when the plugin loads, before a task runs
        outbox = None if reference else get_outbox(settings)
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
            event = StateEvent(
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
            if reference:
                wire = {"id": i + 1, **event.model_dump(mode="json")}
                procs[0].stdin.write(json.dumps(wire) + "\n")
                procs[0].stdin.flush()
            else:
                outbox.put(event)
        publish_s = time.perf_counter() - start
        time.sleep(3.0)  # drain
        sampler.running = False
        healths = [] if reference else [httpx.get(f"{url}/healthz", timeout=120).json() for url in urls]
        frames = {path: sum((h.get("frames") or {}).get(path, 0) for h in healths) for path in ("direct", "queued")}
        metrics_window = metrics_sum(
            [
                metrics_delta(before, httpx.get(f"{url}/metrics", timeout=120).text)
                for url, before in zip(urls, metrics_before, strict=False)
            ]
        )
        server_side = server_latency(metrics_window) if not reference else {}
        cpu_used = sampler.cpu_seconds() - cpu_before
        members = {p: sum(1 for _, q in pairs if q == p) for p in set(projects)}
        expected = sum(n * members[p] for p, n in per_project.items())
        reports = []
        for node in nodes:
            node.stdin.write("REPORT\n")
            node.stdin.flush()
            reports.append(json.loads(read_line(node, 120, "load clients' report")))
        latencies = [x for r in reports for x in r["latencies"]]
        deliveries = sum(r["deliveries"] for r in reports)
        return {
            "load": name,
            "server": server,
            "sidecars": sidecars,
            "clients": len(pairs),
            "connect_join_s": round(connect_join_s, 1),
            "connect_join_cpu_ms_per_client": round(join_cpu / len(pairs) * 1e3, 3),
            "events_sent": n_events,
            "publish_seconds": round(publish_s, 2),
            "deliveries_expected": expected,
            "deliveries": deliveries,
            "lost": expected - deliveries,
            "duplicates": sum(r["dups"] for r in reports),
            "reconnects": sum(r["reconnects"] for r in reports),
            "p50_ms": round(pct(latencies, 0.50), 1),
            "p99_ms": round(pct(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1) if latencies else None,
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "server_peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
            "server_cpu_mean_pct": round(statistics.fmean(sampler.cpu), 1) if sampler.cpu else None,
            # CPU the server spent per delivered frame: comparable across runs even when
            # other work on the machine steals cores (then latency is not).
            "server_cpu_us_per_delivery": round(cpu_used / max(1, expected) * 1e6, 1),
            "machine_load_avg_1m": round(load_before, 2),
            "database": None if reference else db_url.split(":", 1)[0],
            "redis": bool(redis_url) and not reference,
            "fanout": None if reference else fanout,
            "frames_by_path": frames,
            # outbox.put -> frames handed to the sockets, from the sidecars' own histograms: the rest of
            # the end-to-end latency is the kernel, the clients and the CPU they wait for
            "server_side_ms": server_side,
            # the same window, per stage (relay: outbox wait, persist, publish; GC pauses; loop lag)
            "breakdown_ms": breakdown(metrics_window) if not reference else {},
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


def client_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--clients: {text!r} is not a comma-separated list of integers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--clients: every count must be at least 1")
    return counts


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
    parser.add_argument(
        "--clients",
        type=client_counts,
        default=[N_CLIENTS],
        help="Socket.IO clients in all; a comma-separated list (1000,3000,5000,8000,10000) runs each in turn",
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the Node socket.io reference server (by default each client count runs against it first)",
    )
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
    # the server holds one socket per client, each client process half of them, plus its own files
    raise_fd_limit(max(args.clients) + 1024)
    ensure_node_clients()
    loads = {
        "a": ([f"proj-{i:02d}" for i in range(50)], 20.0, 100.0),
        "b": (["one-big-project"], 5.0, 250.0),
    }
    servers = ["sidecar"] if args.no_reference else ["node", "sidecar"]
    results = []
    for n_clients in args.clients:
        for name in ("a", "b") if args.load == "both" else (args.load,):
            projects, rate, target = loads[name]
            print(
                f"load ({name}): {n_clients} clients, {len(set(projects))} project(s), {rate:g} events/s, "
                f"{args.seconds:g}s, redis={'yes' if args.redis_url else 'no'}, sidecars={args.sidecars}",
                flush=True,
            )
            by_server = {}
            for server in servers:
                try:
                    result = run_load(
                        name,
                        projects,
                        rate,
                        args.seconds,
                        args.redis_url,
                        args.fanout,
                        args.gc_freeze_interval,
                        sidecars=args.sidecars,
                        n_clients=n_clients,
                        server=server,
                    )
                except (RuntimeError, httpx.HTTPError) as exc:  # a failed run is a result too: say so, go on
                    print(f"  [{server}] FAILED: {exc}", flush=True)
                    continue
                result["target_p99_ms"] = target
                by_server[server] = result
                print("  " + json.dumps(result), flush=True)
                results.append(result)
            sidecar = by_server.get("sidecar")
            if sidecar is not None:
                node = by_server.get("node")
                sidecar["join_vs_node"] = round(sidecar["connect_join_s"] / node["connect_join_s"], 2) if node else None
                sidecar["ok"] = (
                    sidecar["lost"] == 0
                    and sidecar["duplicates"] == 0
                    and sidecar["reconnects"] == 0
                    and sidecar["p99_ms"] <= target
                    and (sidecar["join_vs_node"] is None or sidecar["join_vs_node"] <= 2.0)
                )
    print(
        "\nload  clients  server   connect+join s  (x node)  CPU ms/client  delivered/expected   lost  dups  reconn  "
        "p50 ms  p99 ms (target)  max ms  RSS MB  CPU%  us/deliv  loadavg  ok"
    )
    for r in results:
        print(
            f"({r['load']})  {r['clients']:>7}  {r['server']:<7}  {r['connect_join_s']:>14}  "
            f"{r.get('join_vs_node') or '':>8}  {r['connect_join_cpu_ms_per_client']:>13}  "
            f"{r['deliveries']:>9}/{r['deliveries_expected']:<9}  "
            f"{r['lost']:>4}  {r['duplicates']:>4}  {r['reconnects']:>6}  {r['p50_ms']:>6}  {r['p99_ms']:>6} "
            f"({r['target_p99_ms']:g})  {r['max_ms']:>6}  {r['server_peak_rss_mb']:>6}  {r['server_cpu_mean_pct']:>5}  "
            f"{r['server_cpu_us_per_delivery']:>8}  {r['machine_load_avg_1m']:>6}  {r.get('ok', '')}"
        )
    print("\nwhere the time went in the sidecar, per load (ms; bucketed p50/p99/max are histogram upper bounds)")
    print("load  clients  stage            count     mean   p50<=   p99<=   max<=")
    for r in results:
        for stage, h in r["breakdown_ms"].items():
            if h["count"]:
                print(
                    f"({r['load']})  {r['clients']:>7}  {stage:<14} {h['count']:>7} {h['mean']:>8} {h['p50_le']:>7g} "
                    f"{h['p99_le']:>7g} {h['max_le']:>7g}"
                )


if __name__ == "__main__":
    main()
