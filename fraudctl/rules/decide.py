"""One decision from the model and the rules: what every door returns.

The first rule that fires, in priority order (highest first; equal priorities in the order
listed), decides with its action: ``block``, ``review`` or ``allow`` (an allow-list entry
overrides the model). When no rule fires the model decides: ``review`` at or above its
threshold, else ``allow``. The model never blocks on its own: blocking a payment is a
decision people write down as a rule. ``rule`` is the deciding rule's name, None when the
model decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudctl.rules.evaluate import fired, first_firing
from fraudctl.rules.ruleset import RuleSet

MODEL_ALERT = "review"
MODEL_PASS = "allow"
ALERTS = ("block", "review")  # decisions that put a transaction before an analyst or stop it


@dataclass(frozen=True)
class Decision:
    decision: str  # block | review | allow
    rule: str | None  # the deciding rule; None: the model decided
    probability: float

    @property
    def alert(self) -> bool:
        return self.decision in ALERTS

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "rule": self.rule, "probability": self.probability}


def model_decision(probability: float, threshold: float) -> str:
    return MODEL_ALERT if probability >= threshold else MODEL_PASS


def decide_row(
    rules: RuleSet, row: Mapping[str, Any], probability: float, threshold: float
) -> Decision:
    """One transaction: ``row`` maps raw fields and history features to values."""
    position = first_firing(rules, row) if rules else None
    if position is None:
        return Decision(model_decision(probability, threshold), None, float(probability))
    rule = rules.rules[position]
    return Decision(rule.action, rule.name, float(probability))


@dataclass(frozen=True)
class Decisions:
    """A batch's decisions, as columns, with every rule's hits for the metrics."""

    decision: np.ndarray  # object: block | review | allow
    rule: np.ndarray  # object: the deciding rule's name, or None
    probability: np.ndarray
    fired: np.ndarray  # (rows, rules) bool, rules in decision order
    rule_names: list[str]

    @property
    def alert(self) -> np.ndarray:
        return np.isin(self.decision, ALERTS)

    def row(self, k: int) -> Decision:
        return Decision(str(self.decision[k]), self.rule[k], float(self.probability[k]))

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {"decision": self.decision, "rule": self.rule, "probability": self.probability}
        )


def decide_batch(
    rules: RuleSet, columns: Mapping[str, Any], probabilities: Any, threshold: float
) -> Decisions:
    """Every row of a batch: ``columns`` maps each field a rule reads to a column."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rows = probabilities.shape[0]
    hits = fired(rules, columns, rows) if rules else np.zeros((rows, 0), dtype=bool)
    decision = np.where(probabilities >= threshold, MODEL_ALERT, MODEL_PASS).astype(object)
    rule = np.full(rows, None, dtype=object)
    if rules:
        any_hit = hits.any(axis=1)
        first = hits.argmax(axis=1)
        actions = np.array([r.action for r in rules.rules], dtype=object)
        names = np.array(rules.names, dtype=object)
        decision[any_hit] = actions[first[any_hit]]
        rule[any_hit] = names[first[any_hit]]
    return Decisions(decision, rule, probabilities, hits, rules.names)
