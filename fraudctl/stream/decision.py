"""The decision on a scored transaction, made in one place, and the record that carries it.

Today a transaction is sent to review when the model's probability reaches its threshold
and allowed otherwise. Rules beside the model (block, review or allow whatever the model
says) plug in at :func:`decider_for`: a decider sees the raw rows and the probabilities
and returns each transaction's decision with the rule that made it (None: the model).
Everything downstream (the decisions stream, the alerts, the metrics) reads only
:class:`Outcome`, so a new decider changes nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
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
        self, rows: Sequence[dict[str, Any]], probabilities: np.ndarray
    ) -> list[Outcome]: ...


@dataclass(frozen=True)
class ThresholdDecider:
    """The model alone: review at or above the threshold, allow below."""

    threshold: float

    def __call__(self, rows: Sequence[dict[str, Any]], probabilities: np.ndarray) -> list[Outcome]:
        review, allow = Outcome(REVIEW), Outcome(ALLOW)
        return [review if flagged else allow for flagged in (probabilities >= self.threshold)]


def decider_for(threshold: float) -> Decider:
    """The decider the consumer applies (the one seam for rules)."""
    return ThresholdDecider(threshold)


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
