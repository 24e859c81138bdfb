"""Operations: liveness and readiness probes, and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from fraudctl.serve.dependencies import State
from fraudctl.serve.errors import json_response

router = APIRouter()


class Readiness(BaseModel):
    status: str
    model_version: str | None = None
    reason: str | None = None


@router.get("/health/live", tags=["health"])
async def live() -> dict[str, str]:
    """The process is up (Kubernetes liveness probe)."""
    return {"status": "alive"}


@router.get(
    "/health/ready",
    tags=["health"],
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The model is not loaded (yet)"}},
)
async def ready(state: State) -> Response:
    """The model is loaded and requests can be scored (readiness probe)."""
    if state.predictor is None:
        reason = state.load_error or "loading model"
        return json_response({"status": "not ready", "reason": reason}, 503)
    return json_response({"status": "ready", "model_version": state.predictor.version})


@router.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
async def metrics(state: State) -> Response:
    """Prometheus metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
