"""The OpenAPI document. Each route declares its own body (:func:`json_body`) and error
statuses (:func:`~fraudctl.serve.errors.error_responses`); what the document adds here are
the request types those bodies name, as components. Routes read raw bodies (for speed and
for their own 400/413/415 answers), so FastAPI does not see these types by itself; and a
transaction's fields are the served model's own, known only once a model is loaded (the
ULB table's until then)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from fraudctl.serve.errors import JSON
from fraudctl.serve.schemas import build_schemas, numeric_fields
from fraudctl.serve.state import ServiceState

REF = "#/components/schemas/{model}"
# The model's own request types, built when it loads (fraudctl.serve.schemas.build_schemas).
MODEL_TYPES = ("Transaction", "TransactionBatch")
# Fixed request types named by a route's json_body, by name: each becomes a component.
BODY_TYPES: dict[str, Any] = {}


def json_body(body: str | type) -> dict[str, Any]:
    """``openapi_extra=`` of a route that reads a JSON body: one of the model's types by
    name (``"Transaction"``), or a pydantic type of the route's own."""
    if isinstance(body, str):
        if body not in MODEL_TYPES:
            raise ValueError(f"{body!r} is not one of the model's request types {MODEL_TYPES}")
        name = body
    else:
        name = body.__name__
        BODY_TYPES[name] = body
    schema = {"$ref": REF.format(model=name)}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def request_components(service: ServiceState) -> dict[str, Any]:
    """Every request type, by name: Transaction and TransactionBatch (the served model's
    fields), the routes' own body types, and the types they refer to."""
    from fraudctl.data.schema import ULB_FEATURES

    schemas = service.schemas or build_schemas(
        numeric_fields([*ULB_FEATURES, "Amount"], "Amount"), service.settings.max_batch_size
    )
    components: dict[str, Any] = {}
    adapters = [schemas.transaction, schemas.batch, *map(TypeAdapter, BODY_TYPES.values())]
    for adapter in adapters:
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
