"""Canary releases: the challenger decides for a fixed share of live transactions.

With ``FRAUDCTL_CANARY=0.05`` and a followed ``models:/name@champion`` model, the service
loads ``models:/name@challenger`` and answers 5 % of ``/predict`` requests with it. The
share is chosen by a hash of the routing key, not at random, so one customer always meets
the same model while the aliases stay put (a retried transaction gets the same answer):

- the customer id, when the model keeps customer history (its first entity column);
- else the request's ``transaction_id``;
- else the transaction's own content.

The champion scores every canary transaction too (a second scoring of one row costs
microseconds), so the metrics compare the two on the same traffic: decisions that agree,
alerts, latency and errors per variant. A challenger that fails to score falls back to
the champion's answer and is counted; it never turns into a 5xx. Batches are scored by the
champion alone: a canary is a per-customer experience, and a batch is not one.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from fraudctl.serve.predictor import Predictor

CHAMPION, CANARY = "champion", "canary"
_HASH_SPACE = float(2**64)


def routing_key(row: dict[str, Any], entity_columns: list[str]) -> bytes:
    """What decides a transaction's side: its customer, else its id, else its content."""
    for column in entity_columns[:1]:
        if row.get(column) is not None:
            return f"{column}={row[column]}".encode()
    if row.get("transaction_id") is not None:
        return f"transaction_id={row['transaction_id']}".encode()
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def in_canary(key: bytes, share: float) -> bool:
    """True for ``share`` of all keys, the same keys every time and on every replica."""
    if share <= 0.0:
        return False
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPACE < share


def routed(
    champion: Predictor, challenger: Predictor | None, row: dict[str, Any], share: float
) -> Predictor:
    """The model a transaction's key routes to, without scoring it (a replayed request)."""
    if challenger is None:
        return champion
    key = routing_key(row, list(champion.model.transform.entities.values()))
    return challenger if in_canary(key, share) else champion


@dataclass(frozen=True)
class Decision:
    """The answer a client gets and which model gave it."""

    probability: float
    threshold: float
    model: Predictor
    variant: str


def decide(
    champion: Predictor,
    challenger: Predictor | None,
    matrix: np.ndarray,
    row: dict[str, Any],
    share: float,
    metrics: Any,
    logger: Any,
) -> tuple[Decision, np.ndarray]:
    """Score one transaction with the model its key routes to; returns the decision and
    the champion's scores (for shadow scoring and idempotent replays)."""
    started = time.perf_counter()
    champion_scores = champion.probabilities(matrix)
    champion_seconds = time.perf_counter() - started
    champion_probability = float(champion_scores[0])
    champion_decision = Decision(champion_probability, champion.threshold, champion, CHAMPION)
    entity_columns = list(champion.model.transform.entities.values())
    champion_fraud = champion_probability >= champion.threshold
    if challenger is None or not in_canary(routing_key(row, entity_columns), share):
        metrics.record_variant(CHAMPION, champion.version, champion_fraud, champion_seconds)
        return champion_decision, champion_scores
    started = time.perf_counter()
    try:
        probability = float(challenger.probabilities(matrix)[0])
    except Exception as exc:  # the canary must never cost the customer an answer
        metrics.canary_errors.inc()
        logger.error(f"canary v{challenger.version} failed to score; the champion answered: {exc}")
        return champion_decision, champion_scores
    seconds = time.perf_counter() - started
    fraud = probability >= challenger.threshold
    metrics.record_variant(CANARY, challenger.version, fraud, seconds)
    metrics.canary_decisions.labels("agree" if fraud == champion_fraud else "disagree").inc()
    return Decision(probability, challenger.threshold, challenger, CANARY), champion_scores
