"""JSON pointers in problem+json bodies escape their tokens once, the RFC 6901 way."""

from __future__ import annotations

from include.api.errors import escape_pointer_part, pointer


def test_tokens_escape_tilde_before_slash():
    assert escape_pointer_part("a/b~c") == "a~1b~0c"
    assert escape_pointer_part("~1") == "~01"  # not "~1": the tilde is escaped first


def test_request_locations_become_pointers():
    assert pointer(("body", "config", "a/b", 0)) == "/config/a~1b/0"
    assert pointer(["query", "x~y"]) == "/x~0y"
