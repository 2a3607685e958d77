"""pandas string semantics, row by row: what ``Series.str.lower()`` / ``.str.split().str.len()`` give on lists.

Why: a feature derivation written over plain lists must give the numbers the
same derivation gave on a pandas frame of Arrow-backed strings, whose case
mapping of non-ASCII text and whose whitespace set differ from Python's.  Plain
ASCII text takes Python's own methods; anything else goes through pandas.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile("[\x1c-\x1f]")


def is_plain(text: str) -> bool:
    """ASCII without the information separators: Python's and Arrow's lower()/split() agree on it."""
    return text.isascii() and not _SEPARATORS.search(text)


def lower_many(texts: list[str]) -> list[str]:
    """``Series.str.lower()`` of a ``str``-dtype Series (simple case mapping for non-ASCII)."""
    out = [t.lower() if is_plain(t) else None for t in texts]
    odd = [i for i, v in enumerate(out) if v is None]
    if odd:
        import pandas as pd

        lowered = pd.Series([texts[i] for i in odd], dtype=str).str.lower().tolist()
        for i, v in zip(odd, lowered, strict=True):
            out[i] = v
    return out


def word_counts(texts: list[str]) -> list[int]:
    """``Series.str.split().str.len()`` of a ``str``-dtype Series."""
    out = [len(t.split()) if is_plain(t) else -1 for t in texts]
    odd = [i for i, v in enumerate(out) if v < 0]
    if odd:
        import pandas as pd

        counts = pd.Series([texts[i] for i in odd], dtype=str).str.split().str.len().tolist()
        for i, v in zip(odd, counts, strict=True):
            out[i] = v
    return out
