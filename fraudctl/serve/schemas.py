"""The API contract: request and response shapes, built from the model's own feature list.

Requests are validated by pydantic straight from the raw body bytes (``validate_json``),
into plain dicts rather than model objects: that keeps a 10,000-row batch cheap while
staying strict. Strict floats refuse strings and booleans, NaN and infinity are refused,
the amount must be >= 0, and unknown or missing fields are errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from typing_extensions import TypedDict

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Amount = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0)]


class ThresholdUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: Annotated[float, Field(strict=True, gt=0.0, lt=1.0, allow_inf_nan=False)]


class Prediction(BaseModel):
    probability: float
    fraud: bool
    risk: str
    threshold: float
    model_version: str


class BatchPrediction(BaseModel):
    model_version: str
    threshold: float
    predictions: list[dict[str, Any]]


@dataclass(frozen=True)
class ApiSchemas:
    """Validators for one feature list; built once when the model loads."""

    features: tuple[str, ...]
    transaction: TypeAdapter[Any]
    batch: TypeAdapter[Any]
    max_batch_size: int

    def openapi_body(self, batch: bool, components: dict[str, Any]) -> dict[str, Any]:
        """An OpenAPI request body; referenced definitions are added to ``components``."""
        adapter = self.batch if batch else self.transaction
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        return {"required": True, "content": {"application/json": {"schema": schema}}}


def build_schemas(features: Sequence[str], amount: str, max_batch_size: int) -> ApiSchemas:
    fields: dict[str, Any] = {
        name: (Amount if name == amount else FiniteFloat) for name in features
    }
    row = TypedDict("Transaction", fields)  # type: ignore[misc]
    row.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    batch = create_model(
        "TransactionBatch",
        __config__=ConfigDict(extra="forbid"),
        transactions=(list[row], Field(min_length=1, max_length=max_batch_size)),  # type: ignore[valid-type]
    )
    return ApiSchemas(
        features=tuple(features),
        transaction=TypeAdapter(row),
        batch=TypeAdapter(batch),
        max_batch_size=max_batch_size,
    )


def describe_errors(exc: ValidationError, limit: int = 20) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field": "transactions[3].V5", "problem": ...}`` items."""
    described = []
    for error in exc.errors(include_url=False, include_input=False)[:limit]:
        field = ""
        for part in error["loc"]:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        described.append({"field": field or "(body)", "problem": error["msg"]})
    return described


def is_json_error(exc: ValidationError) -> bool:
    return any(e["type"] == "json_invalid" for e in exc.errors(include_url=False))
