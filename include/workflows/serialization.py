"""JSON and YAML import/export of workflow documents, lossless in both directions.

There are two forms of a workflow as plain data, and each has one function:

* :func:`to_dict` is the *complete* form, every field with its default filled
  in: what a version stores and what the compiler writes, so a stored version
  keeps the behaviour it was saved with even if a default changes later;
* :func:`export_dict` is the *export* form (the export endpoint, the editor's
  Export, :func:`to_json` / :func:`to_yaml`): only what differs from the
  defaults — what the author wrote, no empty labels, no 0,0 positions — plus
  ``format_version``, so a future reader knows how to read the file.  Loading
  it fills the defaults in again, so the same workflow comes back.  Two
  documents that mean the same workflow export to the same text.

Both put keys in a reading order (id, type, label, position, config; the
subtype first inside config).
Imports parse the text, then validate; syntax errors name the line and
column, content errors are :class:`~include.workflows.validation.WorkflowInvalid`
with a pointer per problem.  YAML is read with a ``SafeLoader`` only, one that
refuses a key given twice in a mapping (PyYAML would keep the last one silently,
so a config would lose a setting without a word); JSON refuses them too.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from include.workflows.model import FORMAT_VERSION, Workflow
from include.workflows.validation import Problem, WorkflowInvalid, load_workflow

Format = Literal["json", "yaml"]
_NODE_KEYS = ("id", "type", "label", "position", "config")
_SUBTYPE_KEYS = ("event", "action", "channel")
_HEADER_KEYS = ("format_version", "id", "name", "description", "project", "version", "enabled", "nodes", "edges")


class WorkflowParseError(ValueError):
    """The text is not JSON/YAML at all (``line``/``column`` when the parser knows)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line, self.column = line, column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{message}{where}")

    @property
    def problems(self) -> list[Problem]:
        where = f"line {self.line}" if self.line is not None else None
        return [Problem(field=where, message=str(self))]


def _ordered(mapping: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    head = {k: mapping[k] for k in first if k in mapping}
    return {**head, **{k: v for k, v in mapping.items() if k not in head}}


def _in_reading_order(data: dict[str, Any]) -> dict[str, Any]:
    data = _ordered(data, _HEADER_KEYS)
    nodes = []
    for node in data.get("nodes", []):
        node = _ordered(node, _NODE_KEYS)
        node["config"] = _ordered(node["config"], _SUBTYPE_KEYS)
        nodes.append(node)
    if "nodes" in data:
        data["nodes"] = nodes
    return data


def to_dict(workflow: Workflow) -> dict[str, Any]:
    """The complete form: plain JSON types, every default filled in, unset optionals omitted."""
    return _in_reading_order(workflow.to_dict())


def export_dict(workflow: Workflow) -> dict[str, Any]:
    """The export form: plain JSON types, only fields that differ from their defaults, plus ``format_version``.

    A node's position is kept whole (``x`` and ``y``) when it is not 0,0, so a
    file keeps a readable point on the canvas rather than a lone ``y``.
    """
    data = workflow.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["format_version"] = workflow.format_version
    for node, exported in zip(workflow.nodes, data.get("nodes", []), strict=True):
        if "position" in exported:
            exported["position"] = node.position.model_dump(mode="json")
    return _in_reading_order(data)


def to_json(workflow: Workflow, *, indent: int | None = 2, complete: bool = False) -> str:
    """The workflow as JSON text: the export form, or with ``complete`` every default (the compiled file)."""
    data = to_dict(workflow) if complete else export_dict(workflow)
    return json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if indent else "")


#: Characters YAML treats as line breaks besides \n and \r.  PyYAML may emit them raw in
#: plain or quoted scalars, and a reader then folds them into a space: '\x85' came back as ' '.
_YAML_EXTRA_BREAKS = ("\x85", "\u2028", "\u2029")


class _ExportDumper(yaml.SafeDumper):
    """SafeDumper that double-quotes strings holding YAML-only line breaks (escaped there, so lossless)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(ch in value for ch in _YAML_EXTRA_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ExportDumper.add_representer(str, _represent_str)


def to_yaml(workflow: Workflow) -> str:
    """The workflow as YAML text, in the export form."""
    return yaml.dump(export_dict(workflow), Dumper=_ExportDumper, sort_keys=False, allow_unicode=True, width=120)


def dump(workflow: Workflow, fmt: Format) -> str:
    """The export of a workflow as ``fmt`` text (what the export endpoint answers)."""
    if fmt == "json":
        return to_json(workflow)
    if fmt == "yaml":
        return to_yaml(workflow)
    raise ValueError(f"format: must be 'json' or 'yaml', not {fmt!r}")


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate mapping keys, naming the key and both lines."""


def _construct_unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, Any] = {}
    for key_node, _value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # a key given here overrides one merged in with <<: not a duplicate
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: let the base constructor report it
            break
        if first is not None:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"duplicate key {key!r} (first given at line {first.line + 1})", key_node.start_mark,
            )
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (a ``yaml.MarkedYAMLError`` naming the key and line)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # UniqueKeyLoader is a SafeLoader


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise WorkflowParseError(f"invalid JSON: duplicate key {key!r}")
        out[key] = value
    return out


def parse_text(text: str | bytes, fmt: Format) -> Any:
    """Parse JSON/YAML text into plain data (no validation); WorkflowParseError on bad syntax."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkflowParseError(f"not UTF-8 text ({exc.reason})") from None
    if fmt == "json":
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as exc:
            raise WorkflowParseError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    if fmt == "yaml":
        try:
            return load_yaml(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            msg = f"invalid YAML: {exc.problem or exc}"
            if mark is not None:
                raise WorkflowParseError(msg, mark.line + 1, mark.column + 1) from None
            raise WorkflowParseError(msg) from None
        except yaml.YAMLError as exc:
            raise WorkflowParseError(f"invalid YAML: {exc}") from None
    raise ValueError(f"format: must be 'json' or 'yaml', not {fmt!r}")


def load(text: str | bytes, fmt: Format) -> Workflow:
    """Parse and validate a workflow document; WorkflowParseError or WorkflowInvalid on bad input."""
    data = parse_text(text, fmt)
    if not isinstance(data, dict):
        raise WorkflowInvalid([Problem(message=f"the document must be a mapping, not {type(data).__name__}")])
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise WorkflowInvalid(
            [Problem(field="format_version", message=f"unsupported format_version {version!r}; this reader knows '1'")]
        )
    return load_workflow(data)


def from_json(text: str | bytes) -> Workflow:
    return load(text, "json")


def from_yaml(text: str | bytes) -> Workflow:
    return load(text, "yaml")
