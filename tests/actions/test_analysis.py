"""The analysers really run on a real git checkout and land on one severity scale."""

from __future__ import annotations

import pytest

from include.analysis import severity as sev
from include.analysis.checkout import CheckoutError, changed_files, checkout
from include.analysis.runners import analyze_checkout
from include.analysis.scoring import count_by_severity, quality_score
from include.enums import Severity


def _by_rule(findings):
    return {(f.analyzer, f.rule): f for f in findings}


def test_real_findings_on_a_checkout_by_sha(git_repo):
    with checkout(git_repo.url, sha=git_repo.bad_sha) as co:
        assert co.commit_sha == git_repo.bad_sha
        result = analyze_checkout(co.path, ["ruff", "bandit", "radon"])
    found = _by_rule(result.findings)
    assert result.files == ["app/bad.py", "clean.py"]
    # bandit: shell=True is HIGH x HIGH -> critical; eval is MEDIUM x HIGH -> high
    assert found[("bandit", "B602")].severity == Severity.critical
    assert found[("bandit", "B602")].file_path == "app/bad.py"
    assert found[("bandit", "B602")].line == 7
    assert found[("bandit", "B307")].severity == Severity.high
    # ruff: unused imports are hygiene
    unused = [f for f in result.findings if f.rule == "F401"]
    assert {f.line for f in unused} == {1, 2} and all(f.severity == Severity.low for f in unused)
    # radon: the tangled function is rank C
    cc = found[("radon", "cyclomatic-complexity")]
    assert cc.context["rank"] == "C" and cc.line == 11 and cc.severity == Severity.low
    assert all(0 <= f.confidence <= 1 for f in result.findings)
    assert not [f for f in result.findings if f.file_path == "clean.py"]


def test_checkout_of_an_older_sha_sees_the_older_tree(git_repo):
    with checkout(str(git_repo.path), sha=git_repo.first_sha) as co:  # a plain local path works too
        result = analyze_checkout(co.path, ["ruff", "bandit", "radon"])
    assert result.files == ["clean.py"]
    assert result.findings == []
    assert quality_score(result.findings, result.analysed_lines) == 100.0


def test_checkout_by_branch_ref(git_repo):
    with checkout(git_repo.url, ref="feature") as co:
        assert co.commit_sha == git_repo.bad_sha
    with checkout(git_repo.url) as co:  # no sha, no ref: the remote's HEAD
        assert co.commit_sha == git_repo.first_sha


def test_changed_files_of_a_pull_request(git_repo):
    with checkout(git_repo.url, sha=git_repo.bad_sha) as co:
        assert changed_files(co, "main") == ["README.md", "app/bad.py"]
    with checkout(git_repo.url, sha=git_repo.first_sha) as co:
        assert changed_files(co, "no-such-branch") is None  # callers fall back to a full analysis


def test_fast_mode_analyses_only_changed_python_files(git_repo):
    with checkout(git_repo.url, sha=git_repo.bad_sha) as co:
        result = analyze_checkout(co.path, ["ruff"], only_files=["clean.py", "README.md", "../../etc/passwd"])
    assert result.files == ["clean.py"]
    assert result.findings == []


def test_unknown_commit_is_a_clear_error(git_repo):
    with pytest.raises(CheckoutError, match="deadbeef"), checkout(git_repo.url, sha="deadbeef" * 5):
        pass
    with pytest.raises(CheckoutError, match="not a commit sha"), checkout(git_repo.url, sha="main; rm -rf /"):
        pass


def test_severity_mapping_is_ordinal_and_total():
    assert sev.bandit_severity("HIGH", "HIGH") == (Severity.critical, 0.9)
    assert sev.bandit_severity("LOW", "LOW")[0] == Severity.info
    assert sev.ruff_severity("F821")[0] == Severity.high
    assert sev.ruff_severity("F401")[0] == Severity.low
    assert sev.ruff_severity("B006")[0] == Severity.medium
    assert sev.ruff_severity("W605")[0] == Severity.info
    assert sev.ruff_severity(None)[0] == Severity.critical
    assert sev.radon_cc_severity("B") is None
    assert [sev.radon_cc_severity(r) for r in "CDEF"] == [Severity.low, Severity.medium, Severity.high, Severity.high]
    assert sev.is_error("critical") and sev.is_error(Severity.high) and not sev.is_error("medium")


def test_quality_score_formula():
    from include.analysis.findings import Finding

    def f(s):
        return Finding(file_path="a.py", line=1, rule="X", analyzer="ruff", severity=s, message="m")

    assert quality_score([], 10) == 100.0
    assert quality_score([f("critical")], 50) == pytest.approx(71.4, abs=0.05)  # 100*100/140
    # the same findings weigh less in a bigger codebase
    assert quality_score([f("high")] * 4, 5000) > quality_score([f("high")] * 4, 500)
    assert count_by_severity([f("low"), f("low"), f("info")]) == {
        "critical": 0,
        "high": 0,
        "medium": 0,
        "low": 2,
        "info": 1,
    }


def test_asserts_in_test_code_are_not_security_findings(tmp_path):
    from include.analysis.runners import is_test_file, run_bandit

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    assert 1 + 1 == 2\n")
    (tmp_path / "lib.py").write_text("def check(x):\n    assert x\n    return x\n")
    found = run_bandit(tmp_path, ["tests/test_x.py", "lib.py"])
    assert [(f.file_path, f.rule) for f in found] == [("lib.py", "B101")]
    assert is_test_file("pkg/tests/a.py") and is_test_file("test_a.py") and is_test_file("a_test.py")
    assert not is_test_file("src/contest.py")
