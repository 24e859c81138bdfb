"""The scoring API: ``create_app(settings) -> FastAPI``, assembled from its rooms: the
service state (:mod:`~fraudctl.serve.state`), one router per resource
(:mod:`~fraudctl.serve.routers`), the error handlers, telemetry and the request log, and
the OpenAPI document (:mod:`~fraudctl.serve.openapi`).

Handlers are ``async def`` and do their small amount of work inline: a threadpool hop
costs more than scoring one row. The model loads in a background thread at start-up,
so ``/health/live`` answers at once and ``/health/ready`` turns 200 when scoring can start.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fraudctl import __version__
from fraudctl.serve.columnar import ColumnarError
from fraudctl.serve.docs import add_offline_docs
from fraudctl.serve.errors import ApiError, api_error_response, json_response
from fraudctl.serve.follow import RegistryFollower
from fraudctl.serve.lane import ScoringApp, predict_lane
from fraudctl.serve.logs import RequestLog, configure_logging
from fraudctl.serve.openapi import openapi_document
from fraudctl.serve.predictor import Predictor
from fraudctl.serve.requests import HeaderLimit
from fraudctl.serve.routers import ROUTERS
from fraudctl.serve.settings import ServeSettings
from fraudctl.serve.state import ServiceState, load_model_into
from fraudctl.serve.telemetry import Metrics, TelemetryMiddleware, tracer_from_environment

# FastAPI's own OpenTelemetry bridge (0.16x) looks up three global providers on every
# request even when none is configured: the service traces itself (telemetry.py).
NO_NATIVE_TELEMETRY = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_app(
    settings: ServeSettings | None = None,
    predictor: Predictor | None = None,
    load_in_background: bool = True,
    routers: Sequence[APIRouter] = ROUTERS,
) -> FastAPI:
    """Build the app. With ``predictor`` given nothing is loaded; otherwise the model loads
    at start-up, in the background (``/health/ready`` says when) or before serving.
    ``routers`` are the API's resources (:data:`fraudctl.serve.routers.ROUTERS`)."""
    settings = settings or ServeSettings()
    logger = configure_logging(settings.log_level)
    metrics = Metrics()
    service = ServiceState(settings, metrics, logger)
    request_log = RequestLog(
        metrics.request_log_dropped, settings.log_sample, interval=settings.log_flush_seconds
    )
    tracing = tracer_from_environment()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        request_log.start()
        if service.alerts is not None:
            service.alerts.start()
        tasks = []
        if predictor is not None:
            service.install(predictor)
        elif load_in_background:
            tasks.append(asyncio.create_task(load_model_into(service)))
        else:  # the server accepts connections only after start-up: ready from the first one
            await load_model_into(service)
        if service.following is not None and settings.poll_seconds > 0:
            tasks.append(asyncio.create_task(RegistryFollower(service, service.following).run()))
        yield
        for task in tasks:
            if not task.done():
                task.cancel()
        if tracing is not None:
            tracing[1].shutdown()  # flush the spans still queued
        request_log.close()  # every record of every request answered
        if service.alerts is not None:
            service.alerts.close()  # every alert of every request answered

    app = ScoringApp(
        title="fraudctl scoring API",
        version=__version__,
        description="Fraud probability, decision and explanation for card transactions.",
        lifespan=lifespan,
        docs_url=None,  # served from the package below: FastAPI's loads from a CDN
        redoc_url=None,
        **NO_NATIVE_TELEMETRY,  # type: ignore[arg-type]
    )
    app.state.service = service
    app.state.request_log = request_log
    app.add_middleware(HeaderLimit)
    app.add_middleware(
        TelemetryMiddleware,
        metrics=metrics,
        logger=logger,
        request_log=request_log,
        tracer=tracing[0] if tracing else None,
    )
    add_error_handlers(app)
    # The routes themselves, first in the app's own table: FastAPI's include_router would
    # wrap each router in a branch of its own, a longer way to every route.
    app.router.routes[:0] = [route for router in routers for route in router.routes]
    app.lane = predict_lane(app, "/predict")  # the request sent most, the shortest way
    add_offline_docs(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def add_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, in the one shape (:mod:`fraudctl.serve.errors`)."""

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


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings come from FRAUDCTL_* environment variables.

    Workers share one listening socket, so each loads its model before it starts accepting;
    otherwise a request could reach a worker that is still loading.
    """
    return create_app(ServeSettings(), load_in_background=False)
