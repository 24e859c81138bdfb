"""The routes, their error handlers, and the fast lane ``POST /predict`` takes."""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fraudctl.serve.canary import decide, routed
from fraudctl.serve.columnar import (
    ARROW_STREAM,
    ColumnarError,
)
from fraudctl.serve.follow import (
    publish_threshold,
)
from fraudctl.serve.requests import (
    LABELS,
    THRESHOLD_UPDATE,
    batch_matrix,
    model_inputs,
    read_body,
    record_requested,
    require_admin,
    validate_body,
)
from fraudctl.serve.schemas import (
    BatchPrediction,
    Prediction,
)
from fraudctl.serve.state import (
    JSON,
    ApiError,
    ServiceState,
    State,
    api_error_response,
    json_response,
)


def add_error_handlers(app: FastAPI) -> None:
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
    row = validate_body(schemas.transaction, await read_body(request))
    record = record_requested(request)
    store = model.online.store
    tx_id = row.get("transaction_id") if store is not None and record else None
    answered = None if tx_id is None else store.recall(str(tx_id))  # type: ignore[union-attr]
    if answered is not None:
        # Posted again (a client retry): the first answer, and the history is not
        # recorded twice. Idempotent by transaction id, and by model: the key routes the
        # replay where it routed the first answer.
        probability = answered
        model = routed(model, state.canary, row, state.settings.canary)
    else:
        matrix = model_inputs(model, [row], record)
        canary = state.canary
        if canary is None:
            scores = model.probabilities(matrix)
            probability = float(scores[0])
        else:
            decision, scores = decide(
                model, canary, matrix, row, state.settings.canary, state.metrics, state.logger
            )
            model, probability = decision.model, decision.probability
        state.shadow_submit(matrix, scores, model.threshold)
        if tx_id is not None:
            store.remember(str(tx_id), probability)  # type: ignore[union-attr]
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


def add_routes(app: FastAPI) -> None:
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
        body = await read_body(request, (JSON, ARROW_STREAM))
        matrix = await batch_matrix(request, model, schemas, body)
        # Scoring a large batch takes tens of milliseconds without the GIL: off the event loop,
        # single-row requests keep flowing meanwhile.
        probabilities = await asyncio.to_thread(model.probabilities, matrix)
        state.shadow_submit(matrix, probabilities, model.threshold)
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
        row = validate_body(schemas.transaction, await read_body(request))
        from fraudctl.model.explainers import NotExplainable

        try:
            probability, contributions, base = model.explain(
                model_inputs(model, [row], record=False)
            )
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
        """Name, version, alias, validation metrics, threshold and feature list; with a
        canary running, which challenger version decides what share of transactions."""
        model, _ = state.ready()
        described = model.describe()
        canary = state.canary
        if canary is not None:
            described["canary"] = {"version": canary.version, "share": state.settings.canary}
        return json_response(described)

    @app.put("/model/threshold", tags=["model"])
    async def set_threshold(
        request: Request, state: State, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        """Change the decision threshold (bearer token required). A model served from the
        registry stores it there, as a tag on its version, so every replica takes it up on
        its next poll and a restart keeps it; a local model directory changes this process."""
        require_admin(state, authorization, "changing the threshold")
        model, _ = state.ready()
        update = validate_body(THRESHOLD_UPDATE, await read_body(request))
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
        require_admin(state, authorization, "recording labels")
        model, _ = state.ready()
        store = model.online.store
        if store is None:
            raise ApiError(409, "this model has no history features: labels are not used")
        batch = validate_body(LABELS, await read_body(request))
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
