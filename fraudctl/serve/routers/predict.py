"""``POST /predict``: one transaction -> probability, decision (the model's rules, then its
threshold), the rule that decided, risk band.

The request every client sends most, so it takes the direct route
(:class:`~fraudctl.serve.routing.DirectRoute`): the body is read and validated here, the
service found on the app, and the answer serialised with orjson.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudctl.rules.decide import Decision, model_decision
from fraudctl.serve.canary import decide, routed
from fraudctl.serve.errors import BODY_ERRORS, error_responses, json_response
from fraudctl.serve.openapi import json_body
from fraudctl.serve.predictor import Predictor
from fraudctl.serve.requests import model_inputs, read_body, record_requested, validate_body
from fraudctl.serve.routing import DirectRoute
from fraudctl.serve.schemas import Prediction
from fraudctl.serve.state import ServiceState

router = APIRouter(route_class=DirectRoute, tags=["scoring"])


@router.post(
    "/predict",
    response_model=Prediction,
    responses=error_responses(*BODY_ERRORS, 503),
    openapi_extra=json_body("Transaction"),
)
async def predict(request: Request) -> Response:
    """Score one transaction: probability, decision at the threshold, risk band.

    ``?record=false`` scores without adding the transaction to the history (what-ifs).
    """
    state: ServiceState = request.app.state.service
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
        decided = replayed(model, store, str(tx_id), probability)
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
        # the model's own rules, then its threshold (a model without rules: the threshold)
        decided = model.model.decide_one(row, matrix[0], probability)
        if tx_id is not None:
            store.remember(str(tx_id), probability)  # type: ignore[union-attr]
            if model.model.rules:
                store.remember_decision(str(tx_id), decided.decision, decided.rule)  # type: ignore[union-attr]
        state.alert_one(model, row, matrix[0], decided)
    fraud = probability >= model.threshold
    state.metrics.record_scores((probability,), int(fraud))
    request.state.log_fields = {
        "model_version": model.version,
        "decision": "fraud" if fraud else "legit",
        "action": decided.decision,
        "rule": decided.rule,
    }
    return json_response(
        {
            "probability": probability,
            "fraud": fraud,
            "risk": model.risk(probability),
            "threshold": model.threshold,
            "model_version": model.version,
            "decision": decided.decision,
            "rule": decided.rule,
        }
    )


def replayed(model: Predictor, store: Any, tx_id: str, probability: float) -> Decision:
    """A replay's decision: the first one, remembered beside its probability (the history
    now holds the transaction, so its rules' history fields cannot be read again); a model
    without rules decides by its threshold, as it did."""
    first = store.recall_decision(tx_id) if model.model.rules else None
    if first is None:
        return Decision(model_decision(probability, model.threshold), None, probability)
    return Decision(first[0], first[1], probability)
