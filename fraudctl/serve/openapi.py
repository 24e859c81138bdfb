"""The OpenAPI document. Each route declares its own body (:func:`json_body`) and error
statuses (:func:`~fraudctl.serve.errors.error_responses`); what the document adds here are
the request types those bodies name, as components: a transaction's fields are the served
model's own, so they exist only once a model is loaded (the ULB table's until then)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from fraudctl.serve.errors import JSON
from fraudctl.serve.schemas import LabelBatch, ThresholdUpdate, build_schemas, numeric_fields
from fraudctl.serve.state import ServiceState

REF = "#/components/schemas/{model}"


def json_body(component: str) -> dict[str, Any]:
    """``openapi_extra=`` of a route that reads a JSON body of the named component."""
    schema = {"$ref": REF.format(model=component)}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def request_components(service: ServiceState) -> dict[str, Any]:
    """Every request type, by name: Transaction and TransactionBatch (the served model's
    fields), ThresholdUpdate, LabelBatch and the types they refer to."""
    from fraudctl.config import ULB_FEATURE_COLUMNS

    schemas = service.schemas or build_schemas(
        numeric_fields(ULB_FEATURE_COLUMNS, "Amount"), service.settings.max_batch_size
    )
    components: dict[str, Any] = {}
    adapters = (schemas.transaction, schemas.batch, TypeAdapter(ThresholdUpdate))
    for adapter in (*adapters, TypeAdapter(LabelBatch)):
        schema = adapter.json_schema(ref_template=REF)
        components.update(schema.pop("$defs", {}))
        components[schema["title"]] = schema
    return components


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document of the routes, with the request types as components. Built on
    each request for it (rarely asked): a model loaded since then is described."""
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(request_components(app.state.service))
    return document
