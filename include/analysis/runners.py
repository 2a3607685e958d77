"""Run the real analysers (ruff, bandit, radon) as subprocesses and normalise their JSON.

Why subprocesses: each tool's CLI and JSON output is its stable, documented
interface (their Python APIs are internal), and a crash or hang in an analyser
stays in its own process under a timeout instead of taking the Airflow task
with it.  The binaries come from the same virtualenv as the running Python.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from include.analysis import severity as sev
from include.analysis.findings import Finding

ANALYZER_TIMEOUT_S = 600
_BATCH = 400  # files per analyser invocation (keeps argv well under ARG_MAX)

# The rule set ruff runs with, independent of the analysed repository's own
# config (``--isolated``) so scores are comparable across repositories:
# pyflakes, pycodestyle errors/warnings, bugbear and pylint errors.
RUFF_SELECT = "E4,E7,E9,F,W6,B,PLE"


class AnalyzerError(RuntimeError):
    """An analyser could not run or produced unreadable output."""


@dataclass
class AnalysisResult:
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # repo-relative Python files analysed
    analysed_lines: int = 0  # non-blank lines in those files


def _tool(name: str) -> str:
    """Path of an analyser's executable: the running venv's first, then PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise AnalyzerError(f"analyser {name!r} is not installed in {Path(sys.executable).parent}")
    return found


def _run_json(cmd: Sequence[str], cwd: Path, ok_codes: tuple[int, ...] = (0, 1)) -> object:
    try:
        done = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, timeout=ANALYZER_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise AnalyzerError(f"{Path(cmd[0]).name} timed out after {ANALYZER_TIMEOUT_S}s") from None
    name = Path(cmd[0]).name
    if done.returncode not in ok_codes:
        raise AnalyzerError(f"{name} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    try:
        return json.loads(done.stdout or "null")
    except json.JSONDecodeError as exc:
        raise AnalyzerError(f"{name} printed invalid JSON ({exc}): {done.stdout[:200]!r}") from None


def _rel(path: str, root: Path) -> str:
    """Repo-relative POSIX path of an analyser's (absolute or ./relative) file name."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(root.resolve())
        except ValueError:
            pass
    return str(PurePosixPath(*p.parts)).removeprefix("./")


def _batches(files: Sequence[str]) -> list[list[str]]:
    return [list(files[i : i + _BATCH]) for i in range(0, len(files), _BATCH)]


def run_ruff(root: Path, files: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for batch in _batches(files):
        cmd = [
            _tool("ruff"),
            "check",
            "--isolated",
            "--no-cache",
            "--exit-zero",
            "--output-format",
            "json",
            "--select",
            RUFF_SELECT,
            "--",
            *batch,
        ]
        for item in _run_json(cmd, root, ok_codes=(0,)) or []:
            code = item.get("code")
            severity, confidence = sev.ruff_severity(code)
            out.append(
                Finding(
                    file_path=_rel(item["filename"], root),
                    line=(item.get("location") or {}).get("row"),
                    rule=code or "syntax-error",
                    analyzer="ruff",
                    severity=severity,
                    message=item.get("message", ""),
                    confidence=confidence,
                    context={"name": item.get("name"), "url": item.get("url")},
                )
            )
    return out


def is_test_file(path: str) -> bool:
    """pytest-style test modules and anything under a tests/ directory."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


# Bandit checks that are noise in test code: B101 flags ``assert``, which is how pytest tests are written.
BANDIT_SKIP_IN_TESTS = frozenset({"B101"})


def run_bandit(root: Path, files: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for batch in _batches(files):
        report = _run_json([_tool("bandit"), "-f", "json", "-q", "--", *batch], root) or {}
        for err in report.get("errors", []):
            # A file bandit could not parse is a finding too (usually a syntax error ruff also reports).
            out.append(
                Finding(
                    file_path=_rel(err.get("filename", "?"), root),
                    line=None,
                    rule="bandit-error",
                    analyzer="bandit",
                    severity=sev.Severity.info,
                    message=str(err.get("reason", "")),
                    confidence=0.3,
                )
            )
        for item in report.get("results", []):
            file_path = _rel(item["filename"], root)
            if item.get("test_id") in BANDIT_SKIP_IN_TESTS and is_test_file(file_path):
                continue
            severity, confidence = sev.bandit_severity(item.get("issue_severity"), item.get("issue_confidence"))
            out.append(
                Finding(
                    file_path=file_path,
                    line=item.get("line_number"),
                    rule=item.get("test_id") or item.get("test_name") or "bandit",
                    analyzer="bandit",
                    severity=severity,
                    message=item.get("issue_text", ""),
                    confidence=confidence,
                    context={
                        "test_name": item.get("test_name"),
                        "issue_severity": item.get("issue_severity"),
                        "issue_confidence": item.get("issue_confidence"),
                        "cwe": (item.get("issue_cwe") or {}).get("id"),
                    },
                )
            )
    return out


def run_radon(root: Path, files: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for batch in _batches(files):
        cc = _run_json([_tool("radon"), "cc", "-j", "--", *batch], root, ok_codes=(0,)) or {}
        for filename, blocks in cc.items():
            if isinstance(blocks, dict):  # {"error": "..."} for unparsable files
                continue
            for block in blocks:
                rank = block.get("rank", "A")
                severity = sev.radon_cc_severity(rank)
                if severity is None:
                    continue
                name = block.get("name")
                if block.get("classname"):
                    name = f"{block['classname']}.{name}"
                out.append(
                    Finding(
                        file_path=_rel(filename, root),
                        line=block.get("lineno"),
                        rule="cyclomatic-complexity",
                        analyzer="radon",
                        severity=severity,
                        message=f"{block.get('type', 'block')} {name!r} is too complex "
                        f"(cyclomatic complexity {block.get('complexity')}, rank {rank})",
                        confidence=sev.RADON_CONFIDENCE,
                        context={"rank": rank, "complexity": block.get("complexity"), "name": name},
                    )
                )
        mi = _run_json([_tool("radon"), "mi", "-j", "--", *batch], root, ok_codes=(0,)) or {}
        for filename, info in mi.items():
            if "rank" not in info:
                continue
            severity = sev.radon_mi_severity(info["rank"])
            if severity is None:
                continue
            out.append(
                Finding(
                    file_path=_rel(filename, root),
                    line=None,
                    rule="maintainability-index",
                    analyzer="radon",
                    severity=severity,
                    message=f"low maintainability index {info.get('mi', 0):.1f} (rank {info['rank']})",
                    confidence=sev.RADON_CONFIDENCE,
                    context={"rank": info["rank"], "mi": info.get("mi")},
                )
            )
    return out


ANALYZERS: dict[str, Callable[[Path, Sequence[str]], list[Finding]]] = {
    "ruff": run_ruff,
    "bandit": run_bandit,
    "radon": run_radon,
}


def python_files(root: Path, only: Sequence[str] | None = None) -> list[str]:
    """Repo-relative Python files to analyse.

    ``only`` (fast mode: the files an event changed) keeps the existing ``.py``
    files among them, refusing paths that escape the checkout; otherwise every
    tracked ``.py`` file (``git ls-files``), so virtualenvs and build output
    that happen to be on disk are never analysed.
    """
    root = root.resolve()
    if only is not None:
        keep = []
        for name in only:
            candidate = (root / name).resolve()
            if candidate.suffix == ".py" and candidate.is_file() and candidate.is_relative_to(root):
                keep.append(str(PurePosixPath(*candidate.relative_to(root).parts)))
        return sorted(set(keep))
    done = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.py"], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return sorted(f for f in done.stdout.split("\0") if f and (root / f).is_file())
    return sorted(str(PurePosixPath(*p.relative_to(root).parts)) for p in root.rglob("*.py") if ".git" not in p.parts)


def _count_lines(root: Path, files: Sequence[str]) -> dict[str, int]:
    """Non-blank lines per file (the score's size measure; a model feature too)."""
    counts: dict[str, int] = {}
    for name in files:
        try:
            counts[name] = sum(1 for line in (root / name).read_text(errors="replace").splitlines() if line.strip())
        except OSError:
            counts[name] = 0
    return counts


def analyze_checkout(root: Path, analyzers: Sequence[str], only_files: Sequence[str] | None = None) -> AnalysisResult:
    """Run the named analysers over a checkout; findings sorted by file, line, analyser."""
    unknown = [a for a in analyzers if a not in ANALYZERS]
    if unknown:
        raise AnalyzerError(f"unknown analyzers {unknown}; known: {sorted(ANALYZERS)}")
    files = python_files(root, only_files)
    lines = _count_lines(root, files)
    result = AnalysisResult(files=files, analysed_lines=sum(lines.values()))
    if not files:
        return result
    for name in dict.fromkeys(analyzers):  # de-duplicated, order kept
        result.findings.extend(ANALYZERS[name](root, files))
    for finding in result.findings:  # file size is a feature the learning system's models use
        if finding.file_path in lines:
            finding.context.setdefault("file_lines", lines[finding.file_path])
    result.findings.sort(key=lambda f: (f.file_path, f.line or 0, f.analyzer, f.rule))
    return result
