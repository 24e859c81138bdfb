"""The scoring API: ``create_app(settings) -> FastAPI``, assembled from its rooms: the
service state (:mod:`~fraudctl.serve.state`), request reading
(:mod:`~fraudctl.serve.requests`), the routes and the fast lane
(:mod:`~fraudctl.serve.routes`) and the OpenAPI document (:mod:`~fraudctl.serve.openapi`).

Handlers are ``async def`` and do their small amount of work inline: a threadpool hop
costs more than scoring one row. The model loads in a background thread at start-up,
so ``/health/live`` answers at once and ``/health/ready`` turns 200 when scoring can start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from fraudctl import __version__
from fraudctl.serve.docs import add_offline_docs
from fraudctl.serve.follow import (
    RegistryFollower,
)
from fraudctl.serve.openapi import openapi_document
from fraudctl.serve.predictor import Predictor
from fraudctl.serve.routes import (
    PredictFastLane,
    add_error_handlers,
    add_routes,
)
from fraudctl.serve.settings import ServeSettings
from fraudctl.serve.state import (
    ServiceState,
    load_model_into,
)
from fraudctl.serve.telemetry import (
    Metrics,
    TelemetryMiddleware,
    configure_logging,
    tracer_from_environment,
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
    add_error_handlers(app)
    add_routes(app)
    add_offline_docs(app)
    app.openapi = lambda: openapi_document(app, service)  # type: ignore[method-assign]
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn workers: settings come from FRAUDCTL_* environment variables.

    Workers share one listening socket, so each loads its model before it starts accepting;
    otherwise a request could reach a worker that is still loading.
    """
    return create_app(ServeSettings(), load_in_background=False)
