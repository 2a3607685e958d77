"""Severity serving latency and throughput: the platform API beside ``mlflow models serve``.

    .venv/bin/python bench/bench_serving.py [--requests 1000] [--batch 5000] [--batches 5]
                                            [--candidate linear|xgboost] [--message title|full]
                                            [--unique-batch] [--plain-pipeline] [--helpfulness]

What it does, all in one run and on one model version:

1. A throw-away state dir (SQLite app DB, SQLite MLflow store).  A severity
   model is trained on the older 80% of the shared advisories with part 1's
   candidate Pipeline (``ml.training.fit_candidate``: featurisation +
   classifier in one sklearn Pipeline), logged with ``mlflow.sklearn`` and
   registered as ``autopr-severity`` v1 with alias ``champion``.
2. Two servers on free ports, one worker each:
   * the platform API (``include.api.app:create_app``) under uvicorn —
     ``POST /api/v1/projects/bench/predictions/severity`` with a JWT, project
     role check, A/B arm choice, featurisation, prediction and prediction log;
   * ``mlflow models serve -m models:/autopr-severity/1 --env-manager local``.
3. Single-prediction latency over real HTTP (keep-alive client, one request
   at a time), interleaved in blocks so both servers see the same machine
   load; then batch throughput with batches of ``--batch`` issues.

Issues are the newer 20% of advisories as an analyser would report them
(``--message title``: the one-line title as the message, like a linter
finding; ``--message full``: title + description, much longer text).  A batch
cycles through those ~300 issues; ``--unique-batch`` appends a distinct
made-up word to every message of the batch instead, so no two texts (and ~5,000
words) repeat — the worst case for the compiled path's per-word n-gram memo.

The platform serves through the compiled inference path (``ml/fast_predict.py``,
built and checked against the Pipeline when the version loads; the run prints
whether the served version compiled); ``--plain-pipeline`` sets
``AUTOPR_SERVING_COMPILED=false`` to measure ``Pipeline.predict_proba`` on a
pandas frame instead.  ``--helpfulness`` also registers a calibrated
helpfulness model (``autopr-helpfulness``, trained on synthetic feedback), which
the platform then scores on every issue as production does once one exists —
extra work ``mlflow models serve`` (severity only) does not do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def register_helpfulness_model(state: Path) -> str:
    """A calibrated helpfulness model (``ml.calibration``, synthetic feedback) as ``autopr-helpfulness@champion``."""
    from include.settings import get_settings
    from ml.calibration import register_helpfulness, synthetic_feedback, train_helpfulness

    frame = synthetic_feedback(5000, seed=0)
    t0 = time.perf_counter()
    trained = train_helpfulness(frame)
    version = register_helpfulness(trained, frame["label"].iloc[-trained.n_holdout:],
                                   tracking_uri=get_settings().mlflow_tracking_uri,
                                   artifact_location=(state / "mlartifacts-helpfulness").as_uri())
    print(f"trained and registered the helpfulness model ({trained.model.method}, "
          f"{len(trained.model.calibrated_classifiers_)} folds) in {time.perf_counter() - t0:.1f}s")
    return version


def setup(state: Path, candidate: str, message_mode: str) -> tuple[list[dict], str]:
    """Train + register the model, prepare the app DB; returns (issue records to send, model version)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from include.db.migrate import upgrade
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role
    from include.settings import get_settings
    from ml.features import ISSUE_COLUMNS, issues_frame
    from ml.ingest import advisory_records
    from ml.training import fit_candidate

    settings = get_settings()
    upgrade(settings.database_url)
    with session_scope() as s:
        p = Project(slug="bench", name="Bench")
        s.add(p)
        s.flush()
        s.add(ProjectMember(project_id=p.id, username="bench-user", role=Role.viewer))

    records = advisory_records(message=message_mode)
    cut = int(len(records) * 0.8)
    train = issues_frame(records[:cut])
    train["label"] = [r["label"] for r in records[:cut]]
    t0 = time.perf_counter()
    pipeline = fit_candidate(candidate, train)
    print(f"trained {candidate} on {cut} advisories in {time.perf_counter() - t0:.1f}s")

    uri = settings.mlflow_tracking_uri
    client = MlflowClient(uri, uri)
    exp_id = client.create_experiment("bench-serving", artifact_location=(state / "mlartifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    example = issues_frame(records[:5])
    with mlflow.start_run(experiment_id=exp_id):
        info = mlflow.sklearn.log_model(pipeline, name="model", registered_model_name=settings.severity_model_name,
                                        serialization_format="cloudpickle",
                                        signature=infer_signature(example, pipeline.predict(example)),
                                        input_example=example)
    version = str(info.registered_model_version)
    client.set_registered_model_alias(settings.severity_model_name, "champion", version)
    test = [{k: v for k, v in r.items() if k != "label"} for r in records[cut:]]
    assert set(issues_frame(test[:1]).columns) == set(ISSUE_COLUMNS)
    return test, version


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000, help="single predictions per server")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--candidate", default="linear", help="part 1 candidate (ml.training.CANDIDATES)")
    ap.add_argument("--message", choices=("title", "full"), default="title")
    ap.add_argument("--unique-batch", action="store_true", help="no repeated message text inside a batch")
    ap.add_argument("--plain-pipeline", action="store_true", help="serve Pipeline.predict_proba (no compiled path)")
    ap.add_argument("--helpfulness", action="store_true",
                    help="also register a calibrated helpfulness model: the platform then scores it on every issue "
                         "(mlflow serve still serves severity only)")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    state = Path(tempfile.mkdtemp(prefix="autopr-bench-serving-"))
    env = {
        **os.environ,
        "AUTOPR_STATE_DIR": str(state),
        "AUTOPR_DATABASE_URL": f"sqlite:///{state / 'autopr.db'}",
        "AUTOPR_MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "AUTOPR_MODEL_REFRESH_SECONDS": "30",
        "AUTOPR_SERVING_COMPILED": "false" if args.plain_pipeline else "true",
        "PYTHONPATH": str(REPO),
        # mlflow models serve execs `uvicorn` from PATH: the venv's bin must come first
        "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    os.environ.update(env)
    import httpx

    from include.auth.tokens import mint_token
    from include.settings import get_settings

    get_settings.cache_clear()
    issues, version = setup(state, args.candidate, args.message)
    if args.helpfulness:
        register_helpfulness_model(state)
    from ml.features import issues_frame

    token = mint_token("bench-user", ttl_seconds=7200)
    api_port, mlflow_port = free_port(), free_port()
    procs = []
    serve_log = open(state / "mlflow-serve.log", "w")  # noqa: SIM115 - outlives the child's start; closed below
    try:
        api = subprocess.Popen([PY, "-m", "uvicorn", "include.api.app:create_app", "--factory", "--host", "127.0.0.1",
                                "--port", str(api_port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
                               cwd=REPO, env=env, start_new_session=True)
        procs.append(api)
        mlf = subprocess.Popen([PY, "-m", "mlflow", "models", "serve", "-m", f"models:/{get_settings().severity_model_name}/{version}",
                                "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", "1"],
                               cwd=REPO, env={**env, "MLFLOW_MODELS_WORKERS": "1"}, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=serve_log)
        procs.append(mlf)
        wait_http(f"http://127.0.0.1:{api_port}/health", api)
        try:
            wait_http(f"http://127.0.0.1:{mlflow_port}/ping", mlf)
        except RuntimeError:
            print((state / "mlflow-serve.log").read_text()[-3000:], file=sys.stderr)
            raise
        print(f"model autopr-severity v{version}; platform API on :{api_port}, mlflow models serve on :{mlflow_port}")

        api_url = f"http://127.0.0.1:{api_port}/api/v1/projects/bench/predictions/severity"
        mlf_url = f"http://127.0.0.1:{mlflow_port}/invocations"
        headers = {"Authorization": f"Bearer {token}"}

        def api_body(rec: dict) -> dict:
            issue = {k: v for k, v in rec.items() if k not in ("repository",) and v is not None}
            return {"repository": rec["repository"], "issue": issue}

        def mlflow_records(recs: list[dict]) -> list[dict]:
            frame = issues_frame(recs)
            frame["created_at"] = frame["created_at"].map(lambda t: t.isoformat())
            out = frame.to_dict(orient="records")
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in out]

        api_payloads = [json.dumps(api_body(r)).encode() for r in issues]
        mlf_payloads = [json.dumps({"dataframe_records": mlflow_records([r])}).encode() for r in issues]
        lat: dict[str, list[float]] = {"platform API": [], "mlflow serve": []}
        with httpx.Client(timeout=60) as http:
            # correctness and warm-up: both answer the same issue with the same model version
            r = http.post(api_url, content=api_payloads[0], headers={**headers, "content-type": "application/json"})
            r.raise_for_status()
            m = http.post(mlf_url, content=mlf_payloads[0], headers={"content-type": "application/json"})
            m.raise_for_status()
            print(f"same issue → platform: {r.json()['severity']} (v{r.json()['model_version']}, {r.json()['arm']}); "
                  f"mlflow serve: {m.json()['predictions'][0]}")
            status = http.get(f"http://127.0.0.1:{api_port}/api/v1/predictions/models", headers=headers).json()
            served = [m for m in status["models"] if m["alias"] == "champion" and m["available"]
                      and m["name"] == get_settings().severity_model_name]
            print(f"platform serves v{version} through the {'compiled path' if served[0]['compiled'] else 'plain Pipeline'}")
            if args.helpfulness:
                helpful = [m for m in status["models"] if m["alias"] == "champion" and m["available"]
                           and m["name"] == get_settings().helpfulness_model_name]
                print(f"helpfulness v{helpful[0]['version']} through the "
                      f"{'compiled path' if helpful[0]['compiled'] else 'plain model'}; "
                      f"answer carries helpfulness {r.json()['helpfulness']}")
            for i in range(50):
                http.post(api_url, content=api_payloads[i % len(issues)], headers={**headers, "content-type": "application/json"})
                http.post(mlf_url, content=mlf_payloads[i % len(issues)], headers={"content-type": "application/json"})

            block = 100
            done = 0
            while done < args.requests:
                for name, url, payloads, hdr in (
                    ("platform API", api_url, api_payloads, {**headers, "content-type": "application/json"}),
                    ("mlflow serve", mlf_url, mlf_payloads, {"content-type": "application/json"}),
                ):
                    for i in range(done, min(done + block, args.requests)):
                        body = payloads[i % len(payloads)]
                        t0 = time.perf_counter()
                        resp = http.post(url, content=body, headers=hdr)
                        lat[name].append((time.perf_counter() - t0) * 1000)
                        if resp.status_code != 200:
                            raise RuntimeError(f"{name} answered {resp.status_code}: {resp.text[:300]}")
                done += block

            # batch throughput
            batch = [issues[i % len(issues)] for i in range(args.batch)]
            if args.unique_batch:
                batch = [{**r, "message": f"{r['message']} {_word(i)}"} for i, r in enumerate(batch)]
            api_batch = json.dumps({"repository": "rubygems/rack",
                                    "issues": [api_body(r)["issue"] for r in batch]}).encode()
            mlf_batch = json.dumps({"dataframe_split": _split(mlflow_records(batch))}).encode()
            thr: dict[str, list[float]] = {"platform API": [], "mlflow serve": []}
            for _ in range(args.batches):
                for name, url, body, hdr in (
                    ("platform API", api_url + "/batch", api_batch, {**headers, "content-type": "application/json"}),
                    ("mlflow serve", mlf_url, mlf_batch, {"content-type": "application/json"}),
                ):
                    t0 = time.perf_counter()
                    resp = http.post(url, content=body, headers=hdr)
                    secs = time.perf_counter() - t0
                    if resp.status_code != 200:
                        raise RuntimeError(f"{name} batch answered {resp.status_code}: {resp.text[:300]}")
                    n = len(resp.json()["predictions"])
                    assert n == args.batch, (name, n)
                    thr[name].append(n / secs)

        print(f"\nsingle prediction over HTTP ({args.requests} sequential requests each, featurisation included, "
              f"{args.candidate} model, message={args.message}; ms)")
        print(f"{'server':<14} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7} {'max':>8}")
        for name, values in lat.items():
            print(f"{name:<14} {percentile(values, 50):>7.2f} {percentile(values, 90):>7.2f} {percentile(values, 99):>7.2f} "
                  f"{statistics.fmean(values):>7.2f} {max(values):>8.2f}")
        print(f"\nbatch throughput ({args.batches} batches of {args.batch}"
              f"{', every message unique' if args.unique_batch else ''}; predictions/s, median [min..max])")
        for name, values in thr.items():
            print(f"{name:<14} {statistics.median(values):>9.0f} [{min(values):.0f}..{max(values):.0f}]")
        print(f"(machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        ours, theirs = percentile(lat["platform API"], 99), percentile(lat["mlflow serve"], 99)
        print(f"\ntargets: p99 < 20 ms → {'PASS' if ours < 20 else 'FAIL'} ({ours:.2f}); "
              f"p99 below mlflow serve's → {'PASS' if ours < theirs else 'FAIL'} ({theirs:.2f}); "
              f"batch ≥ 10,000/s → {'PASS' if statistics.median(thr['platform API']) >= 10000 else 'FAIL'}")
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        serve_log.close()


def _word(i: int) -> str:
    """A made-up lower-case word per index (distinct for distinct i): letters of i in base 26, plus a vowel."""
    letters = []
    while True:
        i, r = divmod(i, 26)
        letters.append(chr(97 + r))
        if i == 0:
            break
    return "zu" + "".join(letters) + "o"


def _split(records: list[dict]) -> dict:
    columns = list(records[0])
    return {"columns": columns, "data": [[r[c] for c in columns] for r in records]}


if __name__ == "__main__":
    raise SystemExit(main())
