"""The one shape every analyser's output is normalised to."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from include.enums import Severity


class Finding(BaseModel):
    """One issue an analyser found, on the platform severity scale.

    ``file_path`` is relative to the repository root (POSIX separators), so
    findings from different checkouts of one repository line up.
    """

    model_config = ConfigDict(extra="forbid")

    file_path: str = Field(min_length=1)
    line: int | None = Field(default=None, ge=0)
    rule: str = Field(min_length=1)
    analyzer: str = Field(min_length=1)
    severity: Severity
    message: str
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    context: dict[str, Any] = Field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """JSON-friendly dict (severity as its string value)."""
        return self.model_dump(mode="json")
