"""Score raw transactions with a model and its rules, and queue the alerts: the batch path a
door takes to fill the queue (``fraudctl score`` with an alert store, a replay of a day,
the web app's tests), through the model's one contract.

The label column, if the rows carry one, is dropped from what the analyst sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.alerts.reasons import TOP_REASONS, RawColumns, alerts_from_decisions, model_reasons
from fraudctl.alerts.store import AlertStore
from fraudctl.rules.check import check_rules
from fraudctl.rules.decide import Decisions, decide_batch
from fraudctl.rules.fields import columns_of, fields_of
from fraudctl.rules.ruleset import RuleSet


@dataclass(frozen=True)
class Enqueued:
    rows: int
    alerts: int  # rows a rule or the model sent for review or blocked
    queued: int  # of those, new in the store (a transaction queued before stays as it was)
    decisions: Decisions


def enqueue(
    model: Any,  # fraudctl.model.bundle.FraudModel
    raw: pd.DataFrame,
    store: AlertStore,
    rules: RuleSet | None = None,
    history: pd.DataFrame | None = None,
    background: pd.DataFrame | None = None,
    top: int = TOP_REASONS,
    now_ms: int | None = None,
) -> Enqueued:
    """Decide every row (rules first, then the model's threshold) and queue the alerts,
    the model's with their ``top`` SHAP reasons. ``history`` is what the rows' history
    features look back over (e.g. the prepared splits)."""
    rules = rules or RuleSet()
    check_rules(rules, fields_of(model))
    inputs = model.inputs(raw, history)
    probabilities = model.probabilities(inputs)
    decisions = decide_batch(
        rules, columns_of(raw, inputs, model.features), probabilities, model.threshold
    )

    def explain(positions: np.ndarray) -> list[list[dict[str, Any]]]:
        return shap_reasons(model, raw, inputs, positions, background, top)

    shown = raw.drop(columns=[model.transform.target], errors="ignore")
    alerts = alerts_from_decisions(
        shown, decisions, RawColumns.of(model.transform), rules, explain, now_ms
    )
    queued = store.add(alerts)
    return Enqueued(len(raw), len(alerts), queued, decisions)


def shap_reasons(
    model: Any,  # fraudctl.model.bundle.FraudModel
    raw: pd.DataFrame,
    inputs: np.ndarray,
    positions: np.ndarray,
    background: pd.DataFrame | None = None,
    top: int = TOP_REASONS,
) -> list[list[dict[str, Any]]]:
    """The model's top SHAP contributions for rows it alerted on itself (no rule fired),
    each raw input shown as it arrived (a category's name, not its code); none where the
    family cannot be explained."""
    from fraudctl.model.explainers import NotExplainable, contributions

    features = pd.DataFrame(inputs[positions], columns=model.features)
    try:
        values, _ = contributions(model.estimator, model.kind, features, background)
    except NotExplainable:
        return [[] for _ in positions]
    shown = features.astype(object)
    for column in features.columns.intersection(raw.columns):
        shown[column] = raw[column].iloc[positions].to_numpy()
    return model_reasons(values, shown, top)
