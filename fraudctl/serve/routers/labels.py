"""``POST /labels``: fraud labels of scored transactions, for the history features."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from fraudctl.serve.dependencies import State, admin_only
from fraudctl.serve.errors import BODY_ERRORS, ApiError, error_responses, json_response
from fraudctl.serve.openapi import json_body
from fraudctl.serve.requests import read_body, validate_body
from fraudctl.serve.schemas import LabelBatch

router = APIRouter(tags=["model"])
LABELS = TypeAdapter(LabelBatch)


@router.post(
    "/labels",
    dependencies=[admin_only("recording labels")],
    responses=error_responses(*BODY_ERRORS, 401, 403, 409, 503),
    openapi_extra=json_body(LabelBatch),
)
async def labels(request: Request, state: State) -> Response:
    """Record fraud labels of scored transactions in the online store (bearer token
    required). History features use a label only once it is older than the delay."""
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
