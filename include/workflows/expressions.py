"""Condition expressions in CEL (Common Expression Language), never Python ``eval``.

A condition sees two variables:

* ``event`` — the run's (normalised) event, e.g. ``event.pr_number``, ``event.labels``;
* ``nodes`` — outputs of upstream steps, ``nodes.<node_id>.<output_key>``
  (``nodes["my-node"].x`` for ids with dashes; ``has(nodes.qc.score)`` tests presence).

CEL is side-effect free, terminates, and has no access to Python objects, which
is what an expression typed by a user into a web form needs.  Compiled
programs are cached because the same expression is checked at save time and
evaluated on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import celpy
from lark import Tree

VARIABLES = ("event", "nodes")
_MACROS = {"all", "exists", "exists_one", "map", "filter"}
#: Functions and methods CEL offers here (celpy's standard library plus macros); anything else
#: would only fail when a run evaluates it, so it is refused up front.
FUNCTIONS = frozenset(
    {name for name in celpy.evaluation.base_functions if name[:1].isalpha()} | _MACROS | {"has", "dyn"}
)
_env = celpy.Environment()


class ExpressionError(ValueError):
    """An expression failed to compile or to evaluate to a bool."""


@lru_cache(maxsize=1024)
def _compile(expr: str) -> tuple[Any, frozenset[str], frozenset[str], frozenset[str], frozenset[OutputRef]]:
    """(program, free variable names, node ids referenced as nodes.<id> / nodes["id"], functions called,
    outputs read as nodes.<id>.<output> / nodes["id"]["output"])."""
    ast = _env.compile(expr)
    free, refs, calls, outputs = _scan(ast)
    return _env.program(ast), free, refs, calls, outputs


@dataclass(frozen=True)
class OutputRef:
    """One ``nodes.<node_id>.<output>`` read in an expression, with where the output name starts."""

    node_id: str
    output: str
    line: int | None = None
    column: int | None = None


_WRAPPERS = ("member", "primary", "expr", "conditionalor", "conditionaland", "relation", "addition",
             "multiplication", "unary")


def _scan(tree: Tree) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[OutputRef]]:
    """Free identifiers (minus macro-bound ones), ``nodes.<id>`` references, called functions, outputs read."""
    calls: set[str] = set()
    idents: set[str] = set()
    bound: set[str] = set()
    refs: set[str] = set()
    outputs: set[OutputRef] = set()

    def unwrap(t: Any) -> Any:
        while isinstance(t, Tree) and t.data in _WRAPPERS and len(t.children) == 1:
            t = t.children[0]
        return t

    def ident_of(t: Any) -> str | None:
        # member -> primary -> ident <name>
        while isinstance(t, Tree) and t.data in ("member", "primary", "expr", "conditionalor", "conditionaland",
                                                  "relation", "addition", "multiplication", "unary"):
            if len(t.children) != 1:
                return None
            t = t.children[0]
        if isinstance(t, Tree) and t.data == "ident" and t.children:
            return str(t.children[0])
        return None

    def string_literal(t: Any) -> str | None:
        while isinstance(t, Tree) and len(t.children) == 1 and t.data != "literal":
            t = t.children[0]
        if isinstance(t, Tree) and t.data == "literal" and str(t.children[0])[:1] in "\"'":
            try:  # let CEL itself decode the literal (escapes, raw strings, triple quotes)
                return str(_env.program(_env.compile(str(t.children[0]))).evaluate({}))
            except Exception:  # noqa: BLE001 - not a plain string literal
                return None
        return None

    def node_ref(t: Any) -> str | None:
        """The node id when ``t`` is ``nodes.<id>`` or ``nodes["id"]``."""
        t = unwrap(t)
        if isinstance(t, Tree) and len(t.children) == 2 and ident_of(t.children[0]) == "nodes":
            if t.data == "member_dot":
                return str(t.children[1])
            if t.data == "member_index":
                return string_literal(t.children[1])
        return None

    def position(t: Any) -> tuple[int | None, int | None]:
        line, column = getattr(t, "line", None), getattr(t, "column", None)
        if line is None and isinstance(t, Tree) and not t.meta.empty:
            line, column = t.meta.line, t.meta.column
        return line, column

    for node in tree.iter_subtrees():
        if node.data in ("member_dot", "member_index") and len(node.children) == 2:
            owner = node_ref(node.children[0])
            if owner is not None:
                name = str(node.children[1]) if node.data == "member_dot" else string_literal(node.children[1])
                if name is not None:
                    outputs.add(OutputRef(owner, name, *position(node.children[1])))
        if node.data == "ident" and node.children:
            idents.add(str(node.children[0]))
        elif node.data == "ident_arg" and node.children:
            calls.add(str(node.children[0]))
        elif node.data == "member_dot_arg" and len(node.children) >= 2:
            method = str(node.children[1])
            calls.add(method)
            if method in _MACROS and isinstance(node.children[2], Tree) and node.children[2].children:
                name = ident_of(node.children[2].children[0])
                if name:
                    bound.add(name)
        elif node.data == "member_dot" and len(node.children) == 2 and ident_of(node.children[0]) == "nodes":
            refs.add(str(node.children[1]))
        elif node.data == "member_index" and len(node.children) == 2 and ident_of(node.children[0]) == "nodes":
            key = string_literal(node.children[1])
            if key is not None:
                refs.add(key)
    return frozenset(idents - bound), frozenset(refs), frozenset(calls), frozenset(outputs)


def check(expr: str) -> str | None:
    """None when ``expr`` is a valid condition, else a one-line error message."""
    if not isinstance(expr, str) or not expr.strip():
        return "expression is empty"
    try:
        _program, free, _refs, calls, _outputs = _compile(expr)
    except celpy.CELParseError as exc:
        return _syntax_error(exc)
    except Exception as exc:  # noqa: BLE001 - celpy raises assorted errors for bad input
        return f"CEL error: {exc}"
    unknown = sorted(free - set(VARIABLES))
    if unknown:
        return f"unknown variable {unknown[0]!r}; conditions can use: {', '.join(VARIABLES)}"
    unknown = sorted(calls - FUNCTIONS)
    if unknown:
        return f"unknown function {unknown[0]!r}; CEL offers: {', '.join(sorted(FUNCTIONS))}"
    return None


def _syntax_error(exc: Any) -> str:
    """``CEL syntax error at line L, column C: unexpected ...`` from celpy's error and lark's cause."""
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    where = f" at line {line}, column {column}" if line is not None and column is not None else ""
    cause = exc.__cause__ or exc.__context__
    token = getattr(cause, "token", None)
    char = getattr(cause, "char", None)
    if token is not None and getattr(token, "type", None) == "$END":
        what = "the expression ends too early"
    elif token is not None:
        what = f"unexpected {str(token)!r}"
    elif char is not None:
        what = f"unexpected character {char!r}"
    else:
        what = "invalid syntax"
    return f"CEL syntax error{where}: {what}"


def referenced_outputs(expr: str) -> frozenset[OutputRef]:
    """The ``nodes.<id>.<output>`` reads of an expression (for checking them against declared outputs)."""
    try:
        return _compile(expr)[4]
    except Exception:  # noqa: BLE001 - invalid expressions are reported by check()
        return frozenset()


def referenced_nodes(expr: str) -> frozenset[str]:
    """Node ids the expression reads through ``nodes.<id>`` or ``nodes["id"]`` (for graph checks)."""
    try:
        return _compile(expr)[2]
    except Exception:  # noqa: BLE001 - invalid expressions are reported by check()
        return frozenset()


def evaluate(expr: str, variables: dict[str, Any]) -> bool:
    """Evaluate a condition against ``{"event": {...}, "nodes": {...}}``; must yield a bool.

    Raises ExpressionError with CEL's message when evaluation fails (for example a
    missing output key) or the result is not a bool.
    """
    error = check(expr)
    if error:
        raise ExpressionError(error)
    program = _compile(expr)[0]
    activation = {name: celpy.json_to_cel(variables.get(name) or {}) for name in VARIABLES}
    try:
        result = program.evaluate(activation)
    except celpy.CELEvalError as exc:
        raise ExpressionError(f"evaluating {expr!r} failed: {exc.args[0] if exc.args else exc}") from None
    if isinstance(result, celpy.CELEvalError):
        raise ExpressionError(f"evaluating {expr!r} failed: {result.args[0] if result.args else result}")
    if not isinstance(result, celpy.celtypes.BoolType):
        raise ExpressionError(f"{expr!r} must yield a bool, got {type(result).__name__} {result!r}")
    return bool(result)
