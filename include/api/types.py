"""Constrained string types shared by the platform API's request models.

Every free-text input refuses NUL characters (PostgreSQL cannot store them, so
they would otherwise surface as a 500) and has a length bound matching its
column, so bad input is a 422 naming the field, never a database error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

from include.workflows.model import SLUG_PATTERN

NO_NUL = r"^[^\x00]*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=63)]
#: A project or workflow slug in a URL path (the pattern allows 63 characters at most).
ProjectSlug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=63, description="Project slug")]
WorkflowSlug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=63, description="Workflow id")]
Name = Annotated[str, StringConstraints(pattern=r"^[^\x00]*\S[^\x00]*$", min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=20000)]
Username = Annotated[str, StringConstraints(pattern=r"^[^\x00\s/]+$", min_length=1, max_length=200)]

#: A code-host repository, ``owner/name`` as GitHub allows them (owner: letters, digits, hyphens; name: also ``.`` and ``_``).
REPOSITORY_OWNER = r"[A-Za-z0-9][A-Za-z0-9-]{0,38}"
REPOSITORY_NAME = r"[A-Za-z0-9._-]{1,100}"
REPOSITORY_PATTERN = rf"^{REPOSITORY_OWNER}/{REPOSITORY_NAME}$"
RepositoryName = Annotated[str, StringConstraints(pattern=REPOSITORY_PATTERN, max_length=140)]
RepositoryOwnerPath = Annotated[str, Path(pattern=rf"^{REPOSITORY_OWNER}$", description="Repository owner")]
RepositoryNamePath = Annotated[str, Path(pattern=rf"^{REPOSITORY_NAME}$", description="Repository name")]
