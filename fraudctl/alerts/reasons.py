"""Alerts from scored transactions, each with the reasons an analyst reads first: the
rule that fired (its name and condition), or the model's largest SHAP contributions.

A door that has decided a batch (:func:`fraudctl.rules.decide.decide_batch`) turns its
alerts into queue entries with :func:`alerts_from_decisions`; the raw rows travel with
them, so the analyst sees the transaction as it arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.alerts.records import Alert, json_value
from fraudctl.rules.ruleset import RuleSet

TOP_REASONS = 5


@dataclass(frozen=True)
class RawColumns:
    """Which raw columns hold what an alert records (the model's transform knows)."""

    time: str
    time_kind: str = "datetime"  # datetime | numeric (seconds), as the transform's
    amount: str | None = None
    entities: dict[str, str] = field(default_factory=dict)  # role -> column
    transaction_id: str = "transaction_id"

    @classmethod
    def of(cls, transform: Any) -> RawColumns:
        """From a model's feature transform."""
        return cls(transform.time, transform.time_kind, transform.amount, dict(transform.entities))


def model_reasons(
    contributions: np.ndarray, features: pd.DataFrame, top: int = TOP_REASONS
) -> list[list[dict[str, Any]]]:
    """Per row: the ``top`` features by absolute SHAP value (log-odds of the estimator,
    positive towards fraud), with the feature's value."""
    names = list(features.columns)
    out = []
    for k in range(contributions.shape[0]):
        order = np.argsort(-np.abs(contributions[k]), kind="stable")[:top]
        out.append(
            [
                {
                    "feature": names[j],
                    "value": json_value(features.iloc[k, j]),
                    "contribution": float(contributions[k, j]),
                }
                for j in order
            ]
        )
    return out


def rule_reasons(rules: RuleSet, name: str) -> list[dict[str, Any]]:
    rule = next(r for r in rules.rules if r.name == name)
    return [{"rule": rule.name, "condition": rule.text, "action": rule.action}]


def alerts_from_decisions(
    raw: pd.DataFrame,
    decisions: Any,  # fraudctl.rules.decide.Decisions
    columns: RawColumns,
    rules: RuleSet,
    explain: Callable[[np.ndarray], list[list[dict[str, Any]]]] | None = None,
    now_ms: int | None = None,
) -> list[Alert]:
    """Alerts for the rows a rule or the model sent for review or blocked. ``explain``
    gets the positions of the model's alerts and returns their reasons (SHAP is costly:
    it runs for alerts only, never for the whole batch)."""
    flagged = np.flatnonzero(decisions.alert)
    if flagged.size == 0:
        return []
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    by_model = [k for k in flagged if decisions.rule[k] is None]
    explained = (
        dict(zip(by_model, explain(np.asarray(by_model)), strict=True))
        if (explain and by_model)
        else {}
    )
    from fraudctl.features.transform import entity_keys, time_to_ms

    times = time_to_ms(raw[columns.time].iloc[flagged], columns.time_kind)
    # as the online store keys them, so an alert finds its customer's history there
    entities = {
        role: entity_keys(raw[column].iloc[flagged]).tolist()
        for role, column in columns.entities.items()
    }
    ids = (
        raw[columns.transaction_id].iloc[flagged].astype(str).tolist()
        if columns.transaction_id in raw.columns
        else [str(raw.index[k]) for k in flagged]
    )
    alerts = []
    for at, k in enumerate(flagged):
        record = raw.iloc[k]
        rule = decisions.rule[k]
        amount = json_value(record[columns.amount]) if columns.amount else None
        alerts.append(
            Alert(
                transaction_id=ids[at],
                time_ms=int(times[at]),
                probability=float(decisions.probability[k]),
                decision=str(decisions.decision[k]),
                rule=rule,
                amount=None if amount is None else float(amount),
                entities={role: str(keys[at]) for role, keys in entities.items()},
                reasons=rule_reasons(rules, rule) if rule else explained.get(k, []),
                row={str(name): json_value(value) for name, value in record.items()},
                created_ms=now_ms,
            )
        )
    return alerts
