"""Benchmark: what a quality_check costs, step by step, and how fast code-host calls go out.

    .venv/bin/python bench/bench_actions.py [--repo PATH_OR_URL] [--sha SHA] [--calls 50]

1. Checkout: a shallow checkout of ``--repo`` (default: this repository, via
   ``file://``) at ``--sha`` (default HEAD) into a temp dir.
2. Analysis: each analyser (ruff, bandit, radon) alone over every tracked
   Python file, then the score — files, lines, findings per severity, seconds.
3. Code-host calls: ``--calls`` comments posted through the same client the
   actions use (Airflow GitHub connection -> PyGithub) to the local GitHub
   stand-in, with PyGithub's write throttle off — the platform's own overhead
   per call (production keeps GitHub's 1 s between writes).

Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=str(ROOT))
    parser.add_argument("--sha", default=None)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()

    from include.analysis.checkout import checkout
    from include.analysis.runners import ANALYZERS, python_files
    from include.analysis.scoring import count_by_severity, quality_score

    sha = args.sha
    if sha is None and Path(args.repo).is_dir():
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.repo, capture_output=True, text=True,
                             check=True).stdout.strip()  # fmt: skip

    t0 = time.perf_counter()
    with checkout(args.repo, sha=sha) as co:
        t_checkout = time.perf_counter() - t0
        files = python_files(co.path)
        lines = sum(1 for f in files for line in (co.path / f).read_text(errors="replace").splitlines() if line.strip())
        print(f"checkout      {co.commit_sha[:12]}  {t_checkout:6.2f} s  ({len(files)} Python files, {lines} lines)")
        findings = []
        for name, run in ANALYZERS.items():
            t = time.perf_counter()
            found = run(co.path, files)
            dt = time.perf_counter() - t
            findings += found
            per_kloc = dt / max(lines / 1000, 1e-9)
            print(f"{name:<13} {len(found):5d} findings  {dt:6.2f} s  ({per_kloc:.3f} s per 1,000 lines)")
        score = quality_score(findings, lines)
        print(f"score         {score:.1f}/100  by severity {json.dumps(count_by_severity(findings))}")
    print(f"quality_check total (checkout + 3 analysers) {time.perf_counter() - t0:.2f} s")

    from tests.support.github_standin import GitHubStandIn

    with GitHubStandIn() as gh:
        gh.add_pull("acme/app", 1, head_sha="a" * 40)
        os.environ["AIRFLOW_CONN_GITHUB_DEFAULT"] = gh.connection_uri_json()
        from include.codehost.github import GitHubActions, github_client

        t = time.perf_counter()
        client = GitHubActions(github_client(), "acme/app")
        t_client = time.perf_counter() - t
        latencies = []
        for i in range(args.calls):
            t = time.perf_counter()
            client.post_comment(1, f"comment {i}")
            latencies.append((time.perf_counter() - t) * 1000)
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"github client setup (Airflow connection + hook) {t_client * 1000:.0f} ms")
        print(f"post_comment x{args.calls}: median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
              f"{len(gh.calls('POST', status=201))} accepted by the stand-in")  # fmt: skip


if __name__ == "__main__":
    main()
