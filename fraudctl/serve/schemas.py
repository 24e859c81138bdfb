"""The API contract: request and response shapes, built from the model's own feature list.

Requests are validated by pydantic straight from the raw body bytes (``validate_json``),
into plain dicts rather than model objects: that keeps a 10,000-row batch cheap while
staying strict. Strict floats refuse strings and booleans, NaN and infinity are refused,
the amount must be >= 0, and unknown or missing fields are errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    create_model,
)
from typing_extensions import TypedDict

from fraudctl.features.door_columns import MISSING_PROBLEM

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# Same bound as data.max_amount's default: a 1e308 is a unit or export mistake, not a payment.
MAX_AMOUNT = 1e9
Amount = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=MAX_AMOUNT)]
# ISO 8601 text only: a bare number is ambiguous (seconds? milliseconds?) and refused.
# Years a transaction can have: the offline features keep nanoseconds since 1970 (pandas'
# range ends in 2262), so year 1 or 9999 is a client bug, not a payment.
FIRST_YEAR, LAST_YEAR = 1970, 2261


def _plausible_year(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return value


Timestamp = Annotated[
    datetime,
    Field(
        strict=True,
        description=f"ISO 8601, e.g. 2026-04-01T13:45:00Z; years {FIRST_YEAR}-{LAST_YEAR}",
        # the year range in the published schema too, so clients (and fuzzers) know it
        json_schema_extra={"pattern": r"^(19[7-9][0-9]|2[01][0-9]{2}|22[0-5][0-9]|226[01])-"},
    ),
    AfterValidator(_plausible_year),
]
# Ids are short: a megabyte of customer id is an attack or a bug, not a customer.
MAX_ID_LENGTH = 256
EntityId = Annotated[
    Annotated[StrictStr, Field(max_length=MAX_ID_LENGTH)] | StrictInt,
    Field(description="an id: text (at most 256 characters) or a whole number"),
]
Category = Annotated[
    StrictStr | StrictInt | None, Field(description="a category; unknown or null is allowed")
]


def _number_not_bool(value: Any) -> Any:
    """JSON Schema's integer admits 1.0 but not true or "1"; pydantic's lax int admits all."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected 0 or 1")
    return value


class Label(TypedDict):
    transaction_id: StrictStr | StrictInt
    is_fraud: Annotated[Literal[0, 1], BeforeValidator(_number_not_bool)]


class LabelBatch(BaseModel):
    """Fraud labels as they arrive (chargebacks, analyst decisions)."""

    model_config = ConfigDict(extra="forbid")
    labels: Annotated[list[Label], Field(min_length=1, max_length=100_000)]


class ThresholdUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: Annotated[float, Field(strict=True, gt=0.0, lt=1.0, allow_inf_nan=False)]


class Prediction(BaseModel):
    probability: float
    fraud: bool  # the model alone: probability at or above the threshold
    risk: str
    threshold: float
    model_version: str
    decision: str  # block | review | allow: the model's rules first, then its threshold
    rule: str | None = None  # the rule that decided; null where the threshold did


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


def bounded(kind: Any, limit: float | None) -> Any:
    """A number field bounded by the contract's magnitude limit for that column."""
    if limit is None:
        return kind
    low = 0.0 if kind is Amount else -limit
    high = min(limit, MAX_AMOUNT) if kind is Amount else limit
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]


def request_fields(transform: Any, limits: dict[str, float] | None = None) -> dict[str, Any]:
    """The raw transaction's fields, from the model's transform (its own contract);
    ``limits`` bound the numbers (1,000 times the training range: FraudModel.input_limits)."""
    limits = limits or {}
    fields: dict[str, Any] = {}
    if transform.needs_time:
        fields[transform.time] = Timestamp if transform.time_kind == "datetime" else FiniteFloat
    for spec in transform.specs:
        fields[transform.entities[spec.role]] = EntityId
    for name in transform.numeric:
        kind = Amount if name == transform.amount else FiniteFloat
        fields[name] = bounded(kind, limits.get(name))
    for name in transform.categorical:
        fields[name] = Category
    if transform.amount and transform.amount not in fields and transform.specs:
        fields[transform.amount] = bounded(Amount, limits.get(transform.amount))
    # lets a label sent later (POST /labels) find this transaction in the store, and an
    # alert be the transaction's own
    fields["transaction_id"] = NotRequired[EntityId]
    return fields


def numeric_fields(features: Sequence[str], amount: str | None) -> dict[str, Any]:
    """Fields of a model whose inputs are plain numbers (the ULB table)."""
    return {name: (Amount if name == amount else FiniteFloat) for name in features}


def build_schemas(fields: dict[str, Any], max_batch_size: int) -> ApiSchemas:
    features = list(fields)
    row = TypedDict("Transaction", fields)  # type: ignore[misc]
    # any field the model does not read is ignored, as at every door
    # (fraudctl.features.door_columns); the batch's envelope stays strict
    row.__pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[attr-defined]
    batch = create_model(
        "TransactionBatch",
        __config__=ConfigDict(extra="forbid"),
        transactions=(list[row], Field(min_length=1, max_length=max_batch_size)),  # type: ignore[valid-type]
    )
    return ApiSchemas(
        features=tuple(f for f in features if f != "transaction_id"),
        transaction=TypeAdapter(row),
        batch=TypeAdapter(batch),
        max_batch_size=max_batch_size,
    )


def describe_errors(exc: ValidationError, limit: int = 20) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field": "transactions[3].V5", "problem": ...}`` items."""
    described = []
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors[:limit]:
        field = ""
        for part in error["loc"]:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        problem = MISSING_PROBLEM if error["type"] == "missing" else error["msg"]
        described.append({"field": field or "(body)", "problem": problem})
    if len(errors) > limit:  # say the list is cut, and by how much
        described.append(
            {"field": "(more)", "problem": f"{len(errors) - limit} more problem(s) not listed"}
        )
    return described


def is_json_error(exc: ValidationError) -> bool:
    return any(e["type"] == "json_invalid" for e in exc.errors(include_url=False))
