"""The one shape every error answer takes, ``{"error": ..., "detail": [...]}``, and the
statuses a route declares for the OpenAPI document."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response

JSON = "application/json"


class ApiError(Exception):
    """A client error rendered as ``{"error": ..., "detail": [...]}``."""

    def __init__(self, status: int, error: str, detail: list[dict[str, str]] | None = None):
        self.status, self.error, self.detail = status, error, detail or []


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type=JSON
    )


def api_error_response(exc: ApiError) -> Response:
    return json_response({"error": exc.error, "detail": exc.detail}, exc.status)


class Problem(BaseModel):
    field: str
    problem: str


class Error(BaseModel):
    """What every 4xx and 5xx answer carries."""

    error: str
    detail: list[Problem]


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
# What any route reading a body can answer (read_body and the validators).
BODY_ERRORS = (400, 413, 415, 422)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: each error status it can answer, with the Error schema."""
    return {status: {"model": Error, "description": STATUS_TEXT[status]} for status in statuses}
