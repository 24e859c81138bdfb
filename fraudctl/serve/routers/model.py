"""``GET /model`` (what is served) and ``PUT /model/threshold`` (the decision threshold)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from fraudctl.serve.dependencies import State, admin_only
from fraudctl.serve.errors import BODY_ERRORS, ApiError, error_responses, json_response
from fraudctl.serve.openapi import json_body
from fraudctl.serve.registry import publish_threshold
from fraudctl.serve.requests import read_body, validate_body
from fraudctl.serve.schemas import ThresholdUpdate

router = APIRouter(tags=["model"])
THRESHOLD_UPDATE = TypeAdapter(ThresholdUpdate)


@router.get("/model", responses=error_responses(503))
async def model_info(state: State) -> Response:
    """Name, version, alias, validation metrics, threshold and feature list; with a
    canary running, which challenger version decides what share of transactions."""
    model, _ = state.ready()
    described = model.describe()
    canary = state.canary
    if canary is not None:
        described["canary"] = {"version": canary.version, "share": state.settings.canary}
    return json_response(described)


@router.put(
    "/model/threshold",
    dependencies=[admin_only("changing the threshold")],
    responses=error_responses(*BODY_ERRORS, 401, 403, 503),
    openapi_extra=json_body(ThresholdUpdate),
)
async def set_threshold(request: Request, state: State) -> Response:
    """Change the decision threshold (bearer token required). A model served from the
    registry stores it there, as a tag on its version, so every replica takes it up on
    its next poll and a restart keeps it; a local model directory changes this process."""
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
