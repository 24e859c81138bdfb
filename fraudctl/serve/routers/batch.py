"""``POST /predict/batch``: up to FRAUDCTL_MAX_BATCH_SIZE transactions as rows of JSON,
columns and data, or an Arrow stream; results keep the request order, each with its
probability, the model's decision at the threshold (``fraud``) and the decision of the
model's rules and threshold together (``decision``, ``rule``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudctl.serve.columnar import ARROW_STREAM
from fraudctl.serve.dependencies import State
from fraudctl.serve.errors import BODY_ERRORS, JSON, error_responses, json_response
from fraudctl.serve.openapi import json_body
from fraudctl.serve.requests import batch_matrix, read_body
from fraudctl.serve.schemas import BatchPrediction

router = APIRouter(tags=["scoring"])


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    responses=error_responses(*BODY_ERRORS, 503),
    openapi_extra=json_body("TransactionBatch"),
)
async def predict_batch(request: Request, state: State) -> Response:
    """Score up to FRAUDCTL_MAX_BATCH_SIZE transactions; results keep the request order."""
    model, schemas = state.ready()
    body = await read_body(request, (JSON, ARROW_STREAM))
    raw, matrix = await batch_matrix(request, model, schemas, body)
    # Scoring a large batch takes tens of milliseconds without the GIL: off the event loop,
    # single-row requests keep flowing meanwhile.
    probabilities = await asyncio.to_thread(model.probabilities, matrix)
    state.shadow_submit(matrix, probabilities, model.threshold)
    # the model's own rules, then its threshold, on the raw fields and the inputs
    decided = model.model.decide_inputs(raw, matrix, probabilities)
    state.alert_batch(model, raw, matrix, decided)
    flagged = probabilities >= model.threshold
    n_flagged = int(flagged.sum())
    state.metrics.batch_size.observe(len(probabilities))
    state.metrics.record_scores(probabilities, n_flagged)
    request.state.log_fields = {
        "model_version": model.version,
        "batch_size": len(flagged),
        "frauds": n_flagged,
        "alerts": int(decided.alert.sum()),
    }
    results = [
        {"probability": p, "fraud": f, "risk": r, "decision": d, "rule": u}
        for p, f, r, d, u in zip(
            probabilities.tolist(),
            flagged.tolist(),
            model.risks(probabilities),
            decided.decision.tolist(),
            decided.rule.tolist(),
            strict=True,
        )
    ]
    return json_response(
        {"model_version": model.version, "threshold": model.threshold, "predictions": results}
    )
