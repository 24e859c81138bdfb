"""The scoring API: ``create_app(settings) -> FastAPI``; routes only.

Handlers are ``async def`` and do their small amount of work inline: a threadpool hop
costs more than scoring one row. The model loads in a background thread at start-up,
so ``/health/live`` answers at once and ``/health/ready`` turns 200 when scoring can start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from itertools import chain
from operator import itemgetter
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from fraudctl import __version__
from fraudctl.serve.columnar import (
    ARROW_STREAM,
    ColumnarError,
    Columns,
    from_arrow,
    from_json,
    is_columnar_json,
    numbers_from_json,
    numeric,
)
from fraudctl.serve.docs import add_offline_docs
from fraudctl.serve.follow import (
    RegistryAlias,
    RegistryFollower,
    publish_threshold,
    registry_threshold,
)
from fraudctl.serve.predictor import Predictor, load_predictor
from fraudctl.serve.schemas import (
    ApiSchemas,
    BatchPrediction,
    LabelBatch,
    Prediction,
    ThresholdUpdate,
    build_schemas,
    describe_errors,
    is_json_error,
    numeric_fields,
    request_fields,
)
from fraudctl.serve.settings import ServeSettings
from fraudctl.serve.shadow import Shadow
from fraudctl.serve.telemetry import (
    Metrics,
    TelemetryMiddleware,
    configure_logging,
    tracer_from_environment,
)

JSON = "application/json"
THRESHOLD_UPDATE = TypeAdapter(ThresholdUpdate)
LABELS = TypeAdapter(LabelBatch)
# A row of JSON is well under this; the body limit is the batch limit times it.
MAX_ROW_BYTES = 2048


class ApiError(Exception):
    """A client error rendered as ``{"error": ..., "detail": [...]}``."""

    def __init__(self, status: int, error: str, detail: list[dict[str, str]] | None = None):
        self.status, self.error, self.detail = status, error, detail or []


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type=JSON
    )


class ServiceState:
    """What the routes share: the predictor once loaded, and its request validators.

    The two live in one tuple that a reload replaces with one assignment, so a request
    never sees a new model with the old schemas or the reverse.
    """

    def __init__(self, settings: ServeSettings, metrics: Metrics, logger: logging.Logger):
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self._active: tuple[Predictor, ApiSchemas] | None = None
        self.load_error: str | None = None
        self.following = RegistryAlias.parse(settings.model)
        self.shadow = (
            Shadow(metrics, logger)
            if settings.shadow and self.following is not None and settings.poll_seconds > 0
            else None
        )

    @property
    def predictor(self) -> Predictor | None:
        active = self._active
        return None if active is None else active[0]

    @property
    def schemas(self) -> ApiSchemas | None:
        active = self._active
        return None if active is None else active[1]

    def install(self, predictor: Predictor) -> None:
        import gc

        # The model, numba and pandas leave a large heap that never dies: keep the cyclic
        # collector from walking it again and again (pauses in the slowest requests).
        gc.collect()
        gc.freeze()
        schemas = build_schemas(
            request_fields(predictor.model.transform, predictor.model.input_limits),
            self.settings.max_batch_size,
        )
        previous = self.predictor
        self._active = (predictor, schemas)
        if previous is not None:
            self.metrics.model_info.labels(
                previous.name, previous.version, previous.alias or "", previous.kind
            ).set(0)
        self.metrics.model_info.labels(
            predictor.name, predictor.version, predictor.alias or "", predictor.kind
        ).set(1)
        self.metrics.threshold.set(predictor.threshold)
        self.metrics.ready.set(1)
        self.load_error = None

    def apply_threshold(self, threshold: float, source: str) -> float | None:
        """Set the served model's threshold; returns the previous one if it changed."""
        model = self.predictor
        if model is None or model.threshold == threshold:
            return None
        previous, model.threshold = model.threshold, threshold
        self.metrics.threshold.set(threshold)
        self.logger.warning(
            f"threshold changed from {previous:.6f} to {threshold:.6f} ({source})",
            extra={
                "fields": {
                    "event": "threshold_changed",
                    "previous": previous,
                    "threshold": threshold,
                    "source": source,
                }
            },
        )
        return previous

    def ready(self) -> tuple[Predictor, ApiSchemas]:
        active = self._active
        if active is None:
            raise ApiError(
                503,
                "model not loaded yet"
                if self.load_error is None
                else f"model failed to load: {self.load_error}",
            )
        return active


async def _state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(_state)]


def _matrix(rows: list[dict[str, float]], features: tuple[str, ...]) -> np.ndarray:
    """Validated rows -> a C-contiguous float64 array in the model's feature order."""
    values = itemgetter(*features) if len(features) > 1 else (lambda row: (row[features[0]],))
    flat = np.fromiter(
        chain.from_iterable(map(values, rows)), dtype=np.float64, count=len(rows) * len(features)
    )
    return flat.reshape(len(rows), len(features))


def body_limit(settings: ServeSettings) -> int:
    """The largest body a route accepts: a full batch of generous rows."""
    return settings.max_batch_size * MAX_ROW_BYTES + 65_536


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _body(request: Request, accepted: tuple[str, ...] = (JSON,)) -> bytes:
    """The raw body, refused early when it is not JSON (415) or too large (413): a body is
    read in chunks and dropped as soon as it passes the limit, never held whole."""
    media = _media(request)
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


def _require_admin(state: ServiceState, authorization: str | None, action: str) -> None:
    """Bearer-token check in constant time; no token (or an empty one) disables the route."""
    token = state.settings.admin_token
    secret = token.get_secret_value().strip() if token is not None else ""
    if not secret:
        raise ApiError(403, f"{action} is disabled: no admin token is configured")
    expected = f"Bearer {secret}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise ApiError(401, "missing or wrong bearer token")


def _features(model: Predictor, rows: list[dict[str, Any]], record: bool) -> np.ndarray:
    """Raw transactions -> a (rows, features) array. A model with history features reads the
    online store (each row also sees the rows before it) and, with ``record``, adds them."""
    if model.raw_only:
        return _matrix(rows, model.features)
    online = model.online
    txs = [online.transaction(row) for row in rows] if model.model.transform.needs_time else None
    matrix = online.matrix(rows, txs)
    if record and txs:
        online.record(txs)
    return matrix


async def _batch_matrix(
    request: Request, model: Predictor, schemas: ApiSchemas, body: bytes
) -> np.ndarray:
    """Model inputs for a batch in any of the three forms: rows of objects (JSON), columns
    and data (JSON), or an Arrow IPC stream."""
    limit = schemas.max_batch_size
    # the transaction id is optional in both formats (it lets a later label find the row)
    optional = () if model.raw_only else ("transaction_id",)
    columns = rows = None
    if _media(request) == ARROW_STREAM:
        columns = await asyncio.to_thread(from_arrow, body, schemas.features, limit, optional)
    else:
        if model.raw_only and _first_key(body) == "columns":  # plain numbers: one parse
            columns = numbers_from_json(body, schemas.features, limit, optional)
        if columns is None:
            columns, rows = _json_batch(body, schemas, limit, optional)
    if columns is not None:
        if model.raw_only:
            checked = numeric(
                columns, model.features, model.amount_column, model.model.input_limits
            )
            return checked.matrix(model.features)
        # JSON again, so text timestamps and ids meet exactly the row format's validator
        rows = _validate_columns(schemas.batch, orjson.dumps({"transactions": columns.records()}))
    if model.raw_only:
        return _matrix(rows, model.features)
    # store look-ups: off the event loop
    return await asyncio.to_thread(_features, model, rows, _record(request))


def _json_batch(
    body: bytes, schemas: ApiSchemas, limit: int, optional: tuple[str, ...]
) -> tuple[Columns | None, Any]:
    """A JSON batch as (columns, None) or (None, validated rows); errors name the field."""
    document = None
    if _first_key(body) not in {"transactions", None}:  # columns and data, most likely
        document = _json_document(body)
    if not is_columnar_json(document):
        try:
            rows = schemas.batch.validate_json(body).transactions
            refuse_repeated_keys(body, 1 + sum(map(len, rows)))
            return None, rows
        except ValidationError as exc:
            document = _json_document(body)
            if not is_columnar_json(document):
                if is_json_error(exc):
                    raise ApiError(400, "body is not valid JSON", describe_errors(exc)) from None
                raise ApiError(422, "invalid request", describe_errors(exc)) from None
    return from_json(document, schemas.features, limit, optional), None


FIRST_KEY = re.compile(rb'\s*\{\s*"([A-Za-z_]+)"')


def _first_key(body: bytes) -> str | None:
    """The body's first key, read from its first bytes: a columnar batch goes straight to
    its own parser instead of failing the row validator first (a whole second parse)."""
    match = FIRST_KEY.match(body, 0, 256)
    return match.group(1).decode() if match else None


def _json_document(body: bytes) -> Any:
    """The parsed body, or None when it is not JSON (the row validator then says where)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:  # orjson refuses a number beyond float's range (1e400): the checks then name it
        return json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _validate_columns(adapter: Any, body: bytes) -> Any:
    try:
        return adapter.validate_json(body).transactions
    except ValidationError as exc:
        raise ApiError(422, "invalid request", _columnar_fields(describe_errors(exc))) from None


def _columnar_fields(problems: list[dict[str, str]]) -> list[dict[str, str]]:
    """Row-format error names (transactions[3].amount) in columnar terms (data[3].amount)."""
    return [{**p, "field": p["field"].replace("transactions[", "data[", 1)} for p in problems]


def _record(request: Request) -> bool:
    """``?record=false`` scores without adding the transaction to the history (what-ifs)."""
    return request.query_params.get("record", "true").lower() not in {"false", "0", "no"}


def _validate(adapter: Any, body: bytes) -> Any:
    try:
        row = adapter.validate_json(body)
    except ValidationError as exc:
        if is_json_error(exc):
            raise ApiError(400, "body is not valid JSON", describe_errors(exc)) from None
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


def create_app(
    settings: ServeSettings | None = None,
    predictor: Predictor | None = None,
    load_in_background: bool = True,
) -> FastAPI:
    """Build the app. With ``predictor`` given nothing is loaded; otherwise the model loads
    at start-up, in the background (``/health/ready`` says when) or before serving."""
    settings = settings or ServeSettings()
    logger = configure_logging(settings.log_level)
    metrics = Metrics()
    service = ServiceState(settings, metrics, logger)
    tracing = tracer_from_environment()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if predictor is not None:
            service.install(predictor)
        elif load_in_background:
            tasks.append(asyncio.create_task(_load_model(service)))
        else:  # the server accepts connections only after start-up: ready from the first one
            await _load_model(service)
        if service.following is not None and settings.poll_seconds > 0:
            tasks.append(asyncio.create_task(RegistryFollower(service, service.following).run()))
        yield
        for task in tasks:
            if not task.done():
                task.cancel()
        if tracing is not None:
            tracing[1].shutdown()  # flush the spans still queued

    app = FastAPI(
        title="fraudctl scoring API",
        version=__version__,
        description="Fraud probability, decision and explanation for card transactions.",
        lifespan=lifespan,
        docs_url=None,  # served from the package below: FastAPI's loads from a CDN
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(PredictFastLane, service=service, routes=app.router.routes)
    app.add_middleware(
        TelemetryMiddleware, metrics=metrics, logger=logger, tracer=tracing[0] if tracing else None
    )
    _add_error_handlers(app)
    _add_routes(app)
    add_offline_docs(app)
    app.openapi = lambda: _openapi(app, service)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, service: ServiceState) -> dict[str, Any]:
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
            for status in _statuses(path, method):
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


def _statuses(path: str, method: str) -> list[int]:
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


async def _load_model(service: ServiceState) -> None:
    settings = service.settings
    try:
        loaded = await asyncio.to_thread(
            load_predictor,
            settings.model,
            settings.tracking_uri,
            settings.online_store,
            settings.scoring_threads,
        )
    except Exception as exc:  # a worker keeps answering probes and says why it is not ready
        service.load_error = str(exc)
        service.logger.error(f"model failed to load: {exc}")
        return
    if service.following is not None:  # a threshold shared through the registry wins
        try:
            shared = await asyncio.to_thread(
                registry_threshold, settings.tracking_uri, loaded.name, loaded.version
            )
        except Exception as exc:
            service.logger.warning(f"could not read the shared threshold: {exc}")
            shared = None
        if shared is not None:
            loaded.threshold = shared  # before the first request can see the model
    service.install(loaded)
    service.logger.info(
        f"model {loaded.name} v{loaded.version} loaded from {loaded.source} "
        f"(threshold {loaded.threshold:.6f})",
        extra={"fields": {"model_version": loaded.version}},
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return api_error_response(exc)

    @app.exception_handler(ColumnarError)
    async def columnar_error(_: Request, exc: ColumnarError) -> Response:
        return json_response({"error": str(exc), "detail": exc.detail}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        detail = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        return json_response({"error": "invalid request", "detail": detail}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        response = json_response({"error": str(exc.detail), "detail": []}, exc.status_code)
        response.headers.update(exc.headers or {})  # e.g. Allow on 405
        return response


async def predict(request: Request, state: State) -> Response:
    """Score one transaction: probability, decision at the threshold, risk band."""
    model, schemas = state.ready()
    row = _validate(schemas.transaction, await _body(request))
    matrix = _features(model, [row], _record(request))
    scores = model.probabilities(matrix)
    if state.shadow is not None:
        state.shadow.submit(matrix, scores, model.threshold)
    probability = float(scores[0])
    fraud = probability >= model.threshold
    state.metrics.record_scores((probability,), int(fraud))
    request.state.log_fields = {
        "model_version": model.version,
        "decision": "fraud" if fraud else "legit",
    }
    return json_response(
        {
            "probability": probability,
            "fraud": fraud,
            "risk": model.risk(probability),
            "threshold": model.threshold,
            "model_version": model.version,
        }
    )


def api_error_response(exc: ApiError) -> Response:
    return json_response({"error": exc.error, "detail": exc.detail}, exc.status)


MAX_HEADER_BYTES = 16_384  # all request headers together (nginx's default buffer is 8-32 KB)


class PredictFastLane:
    """``POST /predict`` straight to its handler, past the router and FastAPI's per-request
    machinery (route matching, dependency solving, exit stacks, the exception middleware).

    That machinery cost about a third of the event loop's time for a single transaction,
    the request every client sends most. The handler, its validation and its errors are
    the route's own (the route stays registered, for the OpenAPI document and any other
    method); telemetry wraps this lane like the rest, and an unexpected exception still
    reaches the server-error middleware (500).
    """

    def __init__(self, app: Any, service: ServiceState, routes: list[Any]) -> None:
        self.app, self.service, self.routes = app, service, routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            # Every request's headers are bounded here: the HTTP parser under uvicorn
            # (httptools) accepts headers of any size.
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > MAX_HEADER_BYTES:
                error = ApiError(
                    431,
                    f"request headers of {size:,} bytes exceed the {MAX_HEADER_BYTES:,}-byte limit",
                )
                await api_error_response(error)(scope, receive, send)
                return
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route  # the metrics' and logs' route label
        try:
            response = await predict(Request(scope, receive), self.service)
        except ApiError as exc:
            response = api_error_response(exc)
        await response(scope, receive, send)

    @functools.cached_property
    def _route(self) -> Any:
        return next(r for r in self.routes if getattr(r, "path", None) == "/predict")


def _add_routes(app: FastAPI) -> None:
    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        """The process is up (Kubernetes liveness probe)."""
        return {"status": "alive"}

    @app.get("/health/ready", tags=["health"])
    async def ready(state: State) -> Response:
        """The model is loaded and requests can be scored (readiness probe)."""
        if state.predictor is None:
            reason = state.load_error or "loading model"
            return json_response({"status": "not ready", "reason": reason}, 503)
        return json_response({"status": "ready", "model_version": state.predictor.version})

    app.post("/predict", tags=["scoring"], response_model=Prediction)(predict)

    @app.post("/predict/batch", tags=["scoring"], response_model=BatchPrediction)
    async def predict_batch(request: Request, state: State) -> Response:
        """Score up to FRAUDCTL_MAX_BATCH_SIZE transactions; results keep the request order."""
        model, schemas = state.ready()
        body = await _body(request, (JSON, ARROW_STREAM))
        matrix = await _batch_matrix(request, model, schemas, body)
        # Scoring a large batch takes tens of milliseconds without the GIL: off the event loop,
        # single-row requests keep flowing meanwhile.
        probabilities = await asyncio.to_thread(model.probabilities, matrix)
        if state.shadow is not None:
            state.shadow.submit(matrix, probabilities, model.threshold)
        flagged = probabilities >= model.threshold
        n_flagged = int(flagged.sum())
        state.metrics.batch_size.observe(len(probabilities))
        state.metrics.record_scores(probabilities, n_flagged)
        request.state.log_fields = {
            "model_version": model.version,
            "batch_size": len(flagged),
            "frauds": n_flagged,
        }
        results = [
            {"probability": p, "fraud": f, "risk": r}
            for p, f, r in zip(
                probabilities.tolist(), flagged.tolist(), model.risks(probabilities), strict=True
            )
        ]
        return json_response(
            {"model_version": model.version, "threshold": model.threshold, "predictions": results}
        )

    @app.post("/explain", tags=["scoring"])
    async def explain(request: Request, state: State) -> Response:
        """Probability and exact SHAP contributions (log-odds) per feature (tree models)."""
        model, schemas = state.ready()
        if not model.can_explain:
            raise ApiError(
                501,
                f"this model ({model.kind}) has no exact explainer; per-request explanations "
                "need a tree model (the fairness stage's SHAP report and `fraudctl ui` cover "
                "this one)",
            )
        row = _validate(schemas.transaction, await _body(request))
        from fraudctl.model.explainers import NotExplainable

        try:
            probability, contributions, base = model.explain(_features(model, [row], record=False))
        except NotExplainable as exc:
            raise ApiError(501, str(exc)) from None
        ranked = dict(sorted(contributions.items(), key=lambda kv: -abs(kv[1])))
        request.state.log_fields = {"model_version": model.version}
        return json_response(
            {
                "probability": probability,
                "base_value": base,
                "contributions": ranked,
                "model_version": model.version,
                "units": "log-odds",
            }
        )

    @app.get("/model", tags=["model"])
    async def model_info(state: State) -> Response:
        """Name, version, alias, validation metrics, threshold and feature list."""
        model, _ = state.ready()
        return json_response(model.describe())

    @app.put("/model/threshold", tags=["model"])
    async def set_threshold(
        request: Request, state: State, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        """Change the decision threshold (bearer token required). A model served from the
        registry stores it there, as a tag on its version, so every replica takes it up on
        its next poll and a restart keeps it; a local model directory changes this process."""
        _require_admin(state, authorization, "changing the threshold")
        model, _ = state.ready()
        update = _validate(THRESHOLD_UPDATE, await _body(request))
        scope = "process"
        if state.following is not None:
            try:
                await asyncio.to_thread(
                    publish_threshold, state.settings.tracking_uri, model, update.threshold
                )
            except Exception as exc:
                raise ApiError(503, f"the registry did not take the threshold: {exc}") from None
            scope = "registry"
        previous = model.threshold
        state.apply_threshold(update.threshold, source=f"PUT /model/threshold ({scope})")
        return json_response({"previous": previous, "threshold": update.threshold, "scope": scope})

    @app.post("/labels", tags=["model"])
    async def labels(
        request: Request, state: State, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        """Record fraud labels of scored transactions in the online store (bearer token
        required). History features use a label only once it is older than the delay."""
        _require_admin(state, authorization, "recording labels")
        model, _ = state.ready()
        store = model.online.store
        if store is None:
            raise ApiError(409, "this model has no history features: labels are not used")
        batch = _validate(LABELS, await _body(request))
        results = await asyncio.to_thread(
            lambda: [
                (
                    str(item["transaction_id"]),
                    store.label(str(item["transaction_id"]), item["is_fraud"]),
                )
                for item in batch.labels
            ]
        )
        unknown = [tx for tx, found in results if not found]
        state.logger.info(
            f"{len(results) - len(unknown)} label(s) recorded",
            extra={"fields": {"event": "labels", "unknown": len(unknown)}},
        )
        return json_response({"recorded": len(results) - len(unknown), "unknown": unknown[:100]})

    @app.get("/metrics", tags=["operations"], include_in_schema=True)
    async def metrics(state: State) -> Response:
        """Prometheus metrics."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings come from FRAUDCTL_* environment variables.

    Workers share one listening socket, so each loads its model before it starts accepting;
    otherwise a request could reach a worker that is still loading.
    """
    return create_app(ServeSettings(), load_in_background=False)
