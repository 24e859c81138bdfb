"""The decision on a scored transaction, made in one place, and the record that carries it.

A transaction is decided by the model's own rules (saved inside it), then its threshold:
the loaded model's :meth:`~fraudctl.model.deciding.Deciding.decide_inputs`, the function
every other door calls, on the micro-batch's raw rows and the input matrix the consumer
computed for them. Everything downstream (the decisions stream, the alerts, the metrics)
reads only :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson

ALLOW, REVIEW, BLOCK = "allow", "review", "block"
DECISIONS = (ALLOW, REVIEW, BLOCK)
# What goes to the alert queue: everything an analyst should look at.
ALERT_DECISIONS = frozenset({REVIEW, BLOCK})


@dataclass(frozen=True)
class Outcome:
    decision: str  # one of DECISIONS
    rule: str | None = None  # the rule that decided; None: the model's threshold

    @property
    def is_alert(self) -> bool:
        return self.decision in ALERT_DECISIONS


class Decider(Protocol):
    def __call__(
        self, rows: Sequence[dict[str, Any]], inputs: np.ndarray, probabilities: np.ndarray
    ) -> list[Outcome]: ...


class RowFields(Mapping[str, Any]):
    """A micro-batch's raw fields by name, built only for the fields a rule reads."""

    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows = rows

    def __getitem__(self, name: str) -> list[Any]:
        if not self.rows or name not in self.rows[0]:
            raise KeyError(name)
        return [row.get(name) for row in self.rows]

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows[0] if self.rows else ())

    def __len__(self) -> int:
        return len(self.rows[0]) if self.rows else 0


@dataclass(frozen=True)
class ModelDecider:
    """The model's rules, then its threshold (a model without rules: the threshold)."""

    model: Any  # fraudctl.model.bundle.FraudModel

    def __call__(
        self, rows: Sequence[dict[str, Any]], inputs: np.ndarray, probabilities: np.ndarray
    ) -> list[Outcome]:
        decided = self.model.decide_inputs(RowFields(rows), inputs, probabilities)
        return [
            Outcome(str(decision), rule)
            for decision, rule in zip(decided.decision.tolist(), decided.rule.tolist(), strict=True)
        ]


def decider_for(model: Any) -> Decider:
    """The decider the consumer applies: the loaded model's own (its rules travel in it)."""
    return ModelDecider(model)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    threshold: float


def record(
    transaction_id: str,
    probability: float,
    outcome: Outcome,
    model: ModelInfo,
    event_id: str,
    consumer: str,
) -> bytes:
    """The decision as the decisions stream carries it (JSON)."""
    return orjson.dumps(
        {
            "transaction_id": transaction_id,
            "probability": probability,
            "decision": outcome.decision,
            "rule": outcome.rule,
            "fraud": probability >= model.threshold,
            "threshold": model.threshold,
            "model": model.name,
            "model_version": model.version,
            "event_id": event_id,
            "consumer": consumer,
        }
    )
