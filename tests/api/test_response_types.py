"""Responses are typed in the OpenAPI document, so clients (and schemathesis) know what comes back."""

from __future__ import annotations

from include.api.app import create_app


def _response_schema(spec: dict, path: str, method: str, status: str = "200") -> dict:
    content = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    name = content["$ref"].rsplit("/", 1)[-1]
    return spec["components"]["schemas"][name]


def test_learning_metrics_are_a_typed_document():
    spec = create_app().openapi()
    metrics = _response_schema(spec, "/api/v1/projects/{project}/learning/metrics", "get")
    assert {"project", "feedback", "precision", "severity_accuracy", "top_issue_types", "per_model_version",
            "ab"} <= set(metrics["properties"])
    run = _response_schema(spec, "/api/v1/projects/{project}/learning/metrics/mlflow", "post", "201")
    assert set(run["properties"]) == {"project", "run_id", "experiment"}
