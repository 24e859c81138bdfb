"""Reading requests: size limits on headers and bodies, the three batch forms (rows,
columnar JSON, Arrow), validation that names the field, and the raw rows -> model inputs
step."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator, Mapping
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
from fastapi import Request
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from fraudctl.serve.columnar import (
    ARROW_STREAM,
    Columns,
    from_arrow,
    from_json,
    is_columnar_json,
    numbers_from_json,
    numeric,
)
from fraudctl.serve.errors import JSON, ApiError, api_error_response
from fraudctl.serve.predictor import Predictor
from fraudctl.serve.schemas import ApiSchemas, describe_errors, is_json_error
from fraudctl.serve.settings import ServeSettings

# A row of JSON is well under this; the body limit is the batch limit times it.
MAX_ROW_BYTES = 2048
MAX_HEADER_BYTES = 16_384  # all request headers together (nginx's default buffer is 8-32 KB)


class HeaderLimit:
    """Refuses a request whose headers together exceed :data:`MAX_HEADER_BYTES` (431):
    the HTTP parser under uvicorn (httptools) accepts headers of any size."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > MAX_HEADER_BYTES:
                error = ApiError(
                    431,
                    f"request headers of {size:,} bytes exceed the {MAX_HEADER_BYTES:,}-byte limit",
                )
                await api_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def rows_matrix(rows: list[dict[str, float]], features: tuple[str, ...]) -> np.ndarray:
    """Validated rows -> a C-contiguous float64 array in the model's feature order."""
    values = itemgetter(*features) if len(features) > 1 else (lambda row: (row[features[0]],))
    flat = np.fromiter(
        chain.from_iterable(map(values, rows)), dtype=np.float64, count=len(rows) * len(features)
    )
    return flat.reshape(len(rows), len(features))


def body_limit(settings: ServeSettings) -> int:
    """The largest body a route accepts: a full batch of generous rows."""
    return settings.max_batch_size * MAX_ROW_BYTES + 65_536


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, accepted: tuple[str, ...] = (JSON,)) -> bytes:
    """The raw body, refused early when it is not JSON (415) or too large (413): a body is
    read in chunks and dropped as soon as it passes the limit, never held whole."""
    media = media_type(request)
    if media not in accepted:
        raise ApiError(
            415, f"unsupported content type {media or '(none)'!r}: send {' or '.join(accepted)}"
        )
    limit = body_limit(request.app.state.service.settings)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise ApiError(413, f"body of {int(declared):,} bytes exceeds the {limit:,}-byte limit")
        try:
            body = await request.body()  # the server stops reading at the declared length
        except ClientDisconnect:
            raise ApiError(400, "the client disconnected before sending the whole body") from None
    else:  # chunked: count as it arrives
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"body exceeds the {limit:,}-byte limit")
                chunks.append(chunk)
        except ClientDisconnect:
            raise ApiError(400, "the client disconnected before sending the whole body") from None
        body = b"".join(chunks)
    if not body:
        raise ApiError(400, "empty body: expected a JSON object")
    return body


def model_inputs(model: Predictor, rows: list[dict[str, Any]], record: bool) -> np.ndarray:
    """Raw transactions -> a (rows, features) array. A model with history features reads the
    online store (each row also sees the rows before it) and, with ``record``, adds them."""
    if model.raw_only:
        return rows_matrix(rows, model.features)
    online = model.online
    txs = [online.transaction(row) for row in rows] if model.model.transform.needs_time else None
    matrix = online.matrix(rows, txs)
    if record and txs:
        online.record(txs)
    return matrix


class RawRows(Mapping[str, Any]):
    """A batch's raw fields by name, as its model's rules read them (a column is built
    only when a rule asks for it), and one row at a time, as an alert records it."""

    def __init__(self, rows: list[dict[str, Any]] | None, columns: Columns | None) -> None:
        self._rows = rows
        self._columns = columns
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if self._columns is not None:
            return self._columns.values[name]
        if name not in self._built:
            if not self._rows or name not in self._rows[0]:
                raise KeyError(name)
            self._built[name] = [row.get(name) for row in self._rows]
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        if self._columns is not None:
            return iter(self._columns.names)
        return iter(self._rows[0] if self._rows else ())

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def row(self, k: int) -> dict[str, Any]:
        if self._columns is not None:
            return {
                name: values[k].item() if hasattr(values[k], "item") else values[k]
                for name, values in self._columns.values.items()
            }
        return self._rows[k]  # type: ignore[index]


async def batch_matrix(
    request: Request, model: Predictor, schemas: ApiSchemas, body: bytes
) -> tuple[RawRows, np.ndarray]:
    """Raw fields and model inputs for a batch in any of the three forms: rows of objects
    (JSON), columns and data (JSON), or an Arrow IPC stream."""
    limit = schemas.max_batch_size
    # the transaction id is optional in both formats (it lets a later label find the row)
    optional = () if model.raw_only else ("transaction_id",)
    columns = rows = None
    if media_type(request) == ARROW_STREAM:
        columns = await asyncio.to_thread(from_arrow, body, schemas.features, limit, optional)
    else:
        if model.raw_only and first_key(body) == "columns":  # plain numbers: one parse
            columns = numbers_from_json(body, schemas.features, limit, optional)
        if columns is None:
            columns, rows = json_batch(body, schemas, limit, optional)
    if columns is not None:
        if model.raw_only:
            checked = numeric(
                columns, model.features, model.amount_column, model.model.input_limits
            )
            return RawRows(None, checked), checked.matrix(model.features)
        # JSON again, so text timestamps and ids meet exactly the row format's validator
        rows = validate_columns(schemas.batch, orjson.dumps({"transactions": columns.records()}))
    if model.raw_only:
        return RawRows(rows, None), rows_matrix(rows, model.features)
    # store look-ups: off the event loop
    matrix = await asyncio.to_thread(model_inputs, model, rows, record_requested(request))
    return RawRows(rows, None), matrix


def json_batch(
    body: bytes, schemas: ApiSchemas, limit: int, optional: tuple[str, ...]
) -> tuple[Columns | None, Any]:
    """A JSON batch as (columns, None) or (None, validated rows); errors name the field."""
    document = None
    if first_key(body) not in {"transactions", None}:  # columns and data, most likely
        document = json_document(body)
    if not is_columnar_json(document):
        try:
            rows = schemas.batch.validate_json(body).transactions
            refuse_repeated_keys(body, 1 + sum(map(len, rows)))
            return None, rows
        except ValidationError as exc:
            document = json_document(body)
            if not is_columnar_json(document):
                if is_json_error(exc):
                    raise ApiError(
                        400, "body is not valid JSON", json_error_fields(body, describe_errors(exc))
                    ) from None
                raise ApiError(422, "invalid request", describe_errors(exc)) from None
    return from_json(document, schemas.features, limit, optional), None


FIRST_KEY = re.compile(rb'\s*\{\s*"([A-Za-z_]+)"')


def first_key(body: bytes) -> str | None:
    """The body's first key, read from its first bytes: a columnar batch goes straight to
    its own parser instead of failing the row validator first (a whole second parse)."""
    match = FIRST_KEY.match(body, 0, 256)
    return match.group(1).decode() if match else None


def json_document(body: bytes) -> Any:
    """The parsed body, or None when it is not JSON (the row validator then says where)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:  # orjson refuses a number beyond float's range (1e400): the checks then name it
        return json.loads(body, parse_constant=not_json)
    except (ValueError, RecursionError):
        return None


def not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def validate_columns(adapter: Any, body: bytes) -> Any:
    try:
        return adapter.validate_json(body).transactions
    except ValidationError as exc:
        raise ApiError(422, "invalid request", columnar_fields(describe_errors(exc))) from None


def columnar_fields(problems: list[dict[str, str]]) -> list[dict[str, str]]:
    """Row-format error names (transactions[3].amount) in columnar terms (data[3].amount)."""
    return [{**p, "field": p["field"].replace("transactions[", "data[", 1)} for p in problems]


def record_requested(request: Request) -> bool:
    """``?record=false`` scores without adding the transaction to the history (what-ifs)."""
    if not request.scope.get("query_string"):  # most requests: no query to parse
        return True
    return request.query_params.get("record", "true").lower() not in {"false", "0", "no"}


def validate_body(adapter: Any, body: bytes) -> Any:
    try:
        row = adapter.validate_json(body)
    except ValidationError as exc:
        if is_json_error(exc):
            problems = json_error_fields(body, describe_errors(exc))
            raise ApiError(400, "body is not valid JSON", problems) from None
        raise ApiError(422, "invalid request", describe_errors(exc)) from None
    if isinstance(row, dict):  # a transaction: its fields are flat keys
        refuse_repeated_keys(body, len(row))
    return row


def refuse_repeated_keys(body: bytes, keys: int) -> None:
    """JSON parsers keep the last of two equal keys (``"V1": 0, "V1": 99``): a client bug
    that must not be scored as whatever came last. Counting ``":`` is a cheap upper bound
    of the keys in the text; only when it exceeds the keys parsed is the body read again
    key by key to name the repeated one."""
    if body.count(b'":') <= keys:
        return
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for name, _ in items:
            if name in seen and len(repeated) < 5:
                repeated.append(name)
            seen.add(name)
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return  # the validator accepted it; a parse difference is not a repeated key
    if repeated:
        raise ApiError(
            422,
            "invalid request",
            [{"field": name[:100], "problem": "repeated key"} for name in repeated],
        )


JSON_POSITION = re.compile(r"line (\d+) column (\d+)")
JSON_KEY = re.compile(rb'"((?:[^"\\]|\\.){1,100})"\s*:')


def json_error_fields(body: bytes, problems: list[dict[str, str]]) -> list[dict[str, str]]:
    """Name the field of a JSON error the parser reports by position only (a number with
    5,000 digits is "number out of range at line 1 column 4309"): the last key before it."""
    named = []
    for problem in problems:
        where = JSON_POSITION.search(problem["problem"])
        if problem["field"] == "(body)" and where:
            line, column = int(where[1]), int(where[2])
            offset = sum(len(part) + 1 for part in body.split(b"\n")[: line - 1]) + column - 1
            keys = JSON_KEY.findall(body, 0, offset)
            if keys:
                problem = {**problem, "field": keys[-1].decode("utf-8", "replace")}
        named.append(problem)
    return named
