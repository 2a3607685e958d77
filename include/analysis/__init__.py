"""Static analysis of a repository checkout: git checkout, real analysers, one severity scale, a score.

``analyze_checkout`` is the one entry point; ``include.actions`` calls it.
"""

from include.analysis.findings import Finding
from include.analysis.runners import ANALYZERS, AnalyzerError, analyze_checkout

__all__ = ["ANALYZERS", "AnalyzerError", "Finding", "analyze_checkout"]
