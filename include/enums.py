"""The platform's shared vocabularies: values the app database, the API and the models all speak.

They live here, at the bottom of the layers, rather than beside the database
models, so that what a model pickled into MLflow depends on is a plain enum
and not the app's ORM: ``ml`` reads ``Severity`` from here, and the database
columns are declared over the same classes.
"""

from __future__ import annotations

import enum


class Role(str, enum.Enum):
    """Project roles, weakest first: each role can do what the ones before it can."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Severity(str, enum.Enum):
    """The platform's one ordinal severity scale (critical > high > medium > low > info)."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class FeedbackType(str, enum.Enum):
    """What a reviewer can say about a finding."""

    helpful = "helpful"
    not_helpful = "not_helpful"
    false_positive = "false_positive"
    missed_issue = "missed_issue"
    good_catch = "good_catch"
