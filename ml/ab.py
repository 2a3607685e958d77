"""A/B assignment: which model alias serves a repository.

A repository is hashed (SHA-256 of ``salt:repository``) to a point in [0, 1);
points below ``challenger_share`` go to ``challenger``.  The same repository
always lands in the same arm (sticky, across processes and restarts, no
state to store), and raising the share only moves repositories from champion
to challenger, never back.  The salt (the model name) keeps different models'
experiments independent.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

CHAMPION = "champion"
CHALLENGER = "challenger"
ARMS = (CHAMPION, CHALLENGER)


@lru_cache(maxsize=65536)
def bucket(repository: str, salt: str = "") -> float:
    """The repository's fixed point in [0, 1)."""
    digest = hashlib.sha256(f"{salt}:{repository}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arm_for(repository: str, challenger_share: float, salt: str = "") -> str:
    """``challenger`` for the first ``challenger_share`` of repositories, else ``champion``."""
    if challenger_share <= 0.0:
        return CHAMPION
    return CHALLENGER if bucket(repository, salt) < challenger_share else CHAMPION
