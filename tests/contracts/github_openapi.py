"""GitHub's own API descriptions, as the yardstick for the stand-in and for what the platform sends.

GitHub publishes its REST API as an OpenAPI 3.0 document and its webhook
payloads as another; octokit ships both on npm (``@octokit/openapi``,
``@octokit/openapi-webhooks``).  ``package.json`` / ``package-lock.json`` beside
this file pin them, and :func:`ensure_installed` runs ``npm ci`` into the
gitignored ``node_modules`` here the first time (``./autopr setup`` does it
too), so a fresh machine needs only the npm registry.

:class:`RestContract` checks one exchange with the stand-in — method and path
against the documented operations, path and query parameters, the request body against
the operation's request schema, the answer against the documented response for
its status — and :class:`WebhookContract` checks a webhook payload against the
documented payload of its event and action.  Schemas are validated with
``openapi-schema-validator`` (the REST description is OpenAPI 3.0: ``nullable``,
read-only and write-only rules; the webhooks one is 3.1), ``$ref`` resolved
inside the one document.
"""

from __future__ import annotations

import copy
import fcntl
import functools
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
REST_DESCRIPTION = MODULES / "@octokit" / "openapi" / "generated" / "api.github.com.json"
WEBHOOKS_DESCRIPTION = MODULES / "@octokit" / "openapi-webhooks" / "generated" / "api.github.com.json"
_STAMP = MODULES / ".autopr-stamp"
_DOC_URI = "urn:github:openapi"
_METHODS = ("get", "put", "post", "patch", "delete")


def _lock_digest() -> str:
    return hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:16]


def ensure_installed() -> None:
    """Install the pinned descriptions once (idempotent, safe across parallel test processes)."""
    want = _lock_digest()
    if _STAMP.is_file() and _STAMP.read_text().strip() == want and REST_DESCRIPTION.is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is required to install GitHub's OpenAPI descriptions (tests/contracts/package.json)")
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _STAMP.is_file() and _STAMP.read_text().strip() == want and REST_DESCRIPTION.is_file():
            return
        subprocess.run(
            [npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=600,
        )
        _STAMP.write_text(want + "\n")


def _registry(document: dict[str, Any]) -> Registry:
    """The whole document as one resource, so ``#/components/...`` references resolve (3.0: draft 4, 3.1: 2020-12)."""
    dialect = DRAFT202012 if str(document.get("openapi", "")).startswith("3.1") else DRAFT4
    return Registry().with_resource(_DOC_URI, Resource.from_contents(document, default_specification=dialect))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _null_allowed(error: Any) -> bool:
    """GitHub marks fields like a check run's ``conclusion`` ``nullable`` with an enum that lists no null.

    OpenAPI 3.0.3 reads that strictly (null rejected), but GitHub sends null there (a run
    in progress has no conclusion), so a null on a nullable field is accepted.
    """
    return error.instance is None and error.validator == "enum" and bool(error.schema.get("nullable"))


def _schema_errors(validator_cls: type, registry: Registry, pointer: str, instance: Any, limit: int = 3) -> list[str]:
    validator = validator_cls({"$ref": f"{_DOC_URI}#/{pointer}"}, registry=registry)
    errors = sorted(
        (e for e in validator.iter_errors(instance) if not _null_allowed(e)), key=lambda e: list(e.absolute_path)
    )
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:limit]]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    spec: dict[str, Any]


class RestContract:
    """GitHub's REST description (``@octokit/openapi``), queried per exchange."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = _registry(document)
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            for method in _METHODS:
                if method in item:
                    self.operations.append(
                        Operation(method.upper(), template, re.compile(regex), literal, item[method])
                    )

    def operation(self, method: str, path: str) -> Operation | None:
        """The documented operation a request is for (the template with most literal segments wins)."""
        matches = [op for op in self.operations if op.method == method and op.pattern.fullmatch(path)]
        return max(matches, key=lambda op: op.literal_segments, default=None)

    def _parameters(self, op: Operation) -> list[dict[str, Any]]:
        out = []
        for param in op.spec.get("parameters", []):
            if "$ref" in param:
                name = param["$ref"].rsplit("/", 1)[-1]
                param = self.document["components"]["parameters"][name]
            out.append(param)
        return out

    def _json_schema_pointer(self, node: dict[str, Any], *base: str) -> str | None:
        if "$ref" in node:  # a shared response / request body in components
            kind, name = node["$ref"].split("/")[-2:]
            base, node = ("components", kind, name), self.document["components"][kind][name]
        for media in ("application/json", "application/scim+json"):
            if "schema" in node.get("content", {}).get(media, {}):
                return _pointer(*base, "content", media, "schema")
        return None

    def example(self, method: str, template: str, status: int, *inside: str | int) -> Any:
        """A fresh copy of GitHub's documented example answer (or the part of it at ``inside``)."""
        op = next(op for op in self.operations if op.method == method and op.template == template)
        content = op.spec["responses"][str(status)]["content"]["application/json"]
        example = next(iter(content["examples"].values()))
        if "$ref" in example:
            example = self.document["components"]["examples"][example["$ref"].rsplit("/", 1)[-1]]
        value = example["value"]
        for key in inside:
            value = value[key]
        return copy.deepcopy(value)

    def _query_problems(self, op: Operation, query: dict[str, list[str]]) -> list[str]:
        documented = {p["name"]: p.get("schema", {}) for p in self._parameters(op) if p.get("in") == "query"}
        found = []
        for name, values in query.items():
            schema = documented.get(name)
            if schema is None:
                found.append(f"{op.method} {op.template}: query parameter {name!r} is not documented")
            elif schema.get("type") == "integer" and not all(v.isdigit() for v in values):
                found.append(f"{op.method} {op.template}: query parameter {name}={values} is not an integer")
        return found

    def problems(self, method: str, path: str, body: Any, status: int, answer: Any,
                 query: dict[str, list[str]] | None = None) -> list[str]:  # fmt: skip
        """What GitHub's description says is wrong with one request (as answered with status/answer)."""
        op = self.operation(method, path)
        accepted = 200 <= status < 300
        if op is None:
            return [f"{method} {path}: not an operation in GitHub's REST description"] if accepted else []
        where = f"{method} {op.template}"
        found: list[str] = []
        segments = dict(zip(op.template.split("/"), path.split("/"), strict=True))
        for param in self._parameters(op):
            if accepted and param.get("in") == "path" and param.get("schema", {}).get("type") == "integer":
                value = segments.get("{" + param["name"] + "}", "")
                if not value.isdigit():
                    found.append(f"{where}: path parameter {param['name']}={value!r} is not an integer")
        if accepted:
            found += self._query_problems(op, query or {})
            request = op.spec.get("requestBody")
            if request is not None:
                if body is None and request.get("required"):
                    found.append(f"{where}: request body is required")
                pointer = self._json_schema_pointer(request, "paths", op.template, op.method.lower(), "requestBody")
                if body is not None and pointer:
                    found += [f"{where} request {e}" for e in _schema_errors(OAS30WriteValidator, self.registry,
                                                                             pointer, body)]  # fmt: skip
            elif body is not None:
                found.append(f"{where}: sent a body to an operation that takes none")
        responses = op.spec.get("responses", {})
        documented = responses.get(str(status)) or responses.get("default")
        if documented is None:
            if accepted:
                found.append(f"{where}: answered {status}, documented are {sorted(responses)}")
            return found
        pointer = self._json_schema_pointer(
            documented, "paths", op.template, op.method.lower(), "responses", str(status)
        )
        if pointer and answer is not None:
            found += [f"{where} answer {status} {e}" for e in _schema_errors(OAS30ReadValidator, self.registry,
                                                                             pointer, answer)]  # fmt: skip
        elif pointer is None and answer not in (None, b"", "") and accepted:
            found.append(f"{where}: answered {status} with a body where GitHub documents none")
        return found


class WebhookContract:
    """GitHub's webhook payload description (``@octokit/openapi-webhooks``)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = _registry(document)

    def key(self, event: str, action: str | None) -> str:
        event = event.replace("_", "-")
        webhooks = self.document["webhooks"]
        if action and f"{event}-{action.replace('_', '-')}" in webhooks:
            return f"{event}-{action.replace('_', '-')}"
        if event in webhooks:
            return event
        raise KeyError(f"GitHub documents no webhook {event!r} with action {action!r}")

    def payload(self, event: str, action: str | None = None, **values: Any) -> dict[str, Any]:
        """The smallest payload the description allows for ``event``/``action``, with ``values`` written over it.

        Tests build webhook deliveries with this, so what the platform parses has every field
        GitHub always sends (and what a test overrides keeps GitHub's types: see :meth:`problems`).
        """
        key = self.key(event, action)
        schema = self.document["webhooks"][key]["post"]["requestBody"]["content"]["application/json"]["schema"]
        built = self._minimal(schema, 0)
        if action is not None:
            built["action"] = action
        return _merged(built, values)

    def _minimal(self, schema: dict[str, Any], depth: int) -> Any:
        """A small instance of ``schema``: its required properties only, first choices of enums and unions."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return self._minimal(self.document["components"]["schemas"][name], depth)
        if depth > 25:
            return None
        for union in ("oneOf", "anyOf"):
            if union in schema:
                options = [o for o in schema[union] if o.get("type") != "null"] or schema[union]
                return self._minimal(options[0], depth + 1)
        if "allOf" in schema:
            parts = [self._minimal(part, depth + 1) for part in schema["allOf"]]
            merged: dict[str, Any] = {}
            for part in parts:
                if isinstance(part, dict):
                    _merged(merged, part)
            return merged
        if "enum" in schema:
            return next((v for v in schema["enum"] if v is not None), None)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            return {name: self._minimal(props.get(name, {}), depth + 1) for name in schema.get("required", [])}
        if kind == "array":
            return [self._minimal(schema.get("items", {}), depth + 1) for _ in range(schema.get("minItems", 0))]
        if kind == "string":
            return {"date-time": "2026-01-01T00:00:00Z", "uri": "https://github.example/x",
                    "uri-template": "https://github.example/x{/y}", "email": "dev@example.com"}.get(
                        schema.get("format", ""), "x")  # fmt: skip
        return {"integer": 1, "number": 1.0, "boolean": False}.get(kind)

    def problems(self, event: str, payload: dict[str, Any]) -> list[str]:
        """What is wrong with a payload GitHub would send as ``X-GitHub-Event: event``."""
        key = self.key(event, payload.get("action"))
        pointer = _pointer("webhooks", key, "post", "requestBody", "content", "application/json", "schema")
        return [f"{key} {e}" for e in _schema_errors(OAS31Validator, self.registry, pointer, payload, limit=10)]


def _merged(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merged(base[key], value)
        else:
            base[key] = value
    return base


@functools.cache
def rest_contract() -> RestContract:
    ensure_installed()
    return RestContract(json.loads(REST_DESCRIPTION.read_bytes()))


@functools.cache
def webhook_contract() -> WebhookContract:
    ensure_installed()
    return WebhookContract(json.loads(WEBHOOKS_DESCRIPTION.read_bytes()))
