"""The OpenAPI document: request bodies from the served model's own fields, and every
error status each route can answer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from fraudctl.serve.requests import (
    LABELS,
    THRESHOLD_UPDATE,
)
from fraudctl.serve.schemas import (
    build_schemas,
    numeric_fields,
)
from fraudctl.serve.state import (
    JSON,
    ServiceState,
)


def openapi_document(app: FastAPI, service: ServiceState) -> dict[str, Any]:
    """The OpenAPI document, with request bodies generated from the served model's features.

    Routes read raw bodies (for speed), so FastAPI cannot see their schemas by itself.
    """
    from fastapi.openapi.utils import get_openapi

    from fraudctl.config import ULB_FEATURE_COLUMNS

    schemas = service.schemas or build_schemas(
        numeric_fields(ULB_FEATURE_COLUMNS, "Amount"), service.settings.max_batch_size
    )
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    bodies = {"/predict": False, "/explain": False, "/predict/batch": True}
    for path, batch in bodies.items():
        document["paths"][path]["post"]["requestBody"] = schemas.openapi_body(batch, components)
    for path, method, adapter in (
        ("/model/threshold", "put", THRESHOLD_UPDATE),
        ("/labels", "post", LABELS),
    ):
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        document["paths"][path][method]["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schema}},
        }
    error = {"$ref": "#/components/schemas/Error"}
    components["Error"] = ERROR_SCHEMA
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status in statuses_of(path, method):
                operation.setdefault("responses", {})[str(status)] = {
                    "description": STATUS_TEXT[status],
                    "content": {JSON: {"schema": error}},
                }
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]
    metrics["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return document


STATUS_TEXT = {
    400: "Empty body or invalid JSON",
    401: "Missing or wrong bearer token",
    403: "Disabled: no admin token is configured",
    409: "The model has no history features",
    413: "Body larger than the limit (FRAUDCTL_MAX_BATCH_SIZE rows)",
    415: "Content type is not application/json",
    422: "A field is missing, of the wrong type or out of range",
    501: "The model has no exact explainer (not a tree model)",
    503: "The model is not loaded (yet)",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}


def statuses_of(path: str, method: str) -> list[int]:
    """Every error status a route can answer, for the OpenAPI document."""
    statuses = []
    if method in {"post", "put"}:
        statuses += [400, 413, 415, 422]
    if path in {"/model/threshold", "/labels"}:
        statuses += [401, 403]
    if path == "/labels":
        statuses.append(409)
    if path == "/explain":
        statuses.append(501)
    if path not in {"/health/live", "/metrics"}:
        statuses.append(503)
    return sorted(statuses)
