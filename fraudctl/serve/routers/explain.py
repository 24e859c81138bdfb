"""``POST /explain``: a transaction's probability and its exact SHAP contributions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudctl.serve.dependencies import State
from fraudctl.serve.errors import BODY_ERRORS, ApiError, error_responses, json_response
from fraudctl.serve.openapi import json_body
from fraudctl.serve.requests import model_inputs, read_body, validate_body

router = APIRouter(tags=["scoring"])


@router.post(
    "/explain",
    responses=error_responses(*BODY_ERRORS, 501, 503),
    openapi_extra=json_body("Transaction"),
)
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
        probability, contributions, base = model.explain(model_inputs(model, [row], record=False))
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
