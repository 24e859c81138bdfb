"""Pick the decision threshold on the validation split, never on the test split.

All three strategies sweep every distinct score once: sorted descending, cumulative sums
give the confusion counts (and money) for "flag everything scoring at least this".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudctl.config import ThresholdParams


@dataclass(frozen=True)
class ThresholdChoice:
    value: float
    strategy: str
    satisfied: bool
    note: str = ""


def _sweep(y_true: np.ndarray, scores: np.ndarray, amounts: np.ndarray):
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    fraud = (y_true[order] == 1).astype(np.int64)
    tp = np.cumsum(fraud)
    fp = np.cumsum(1 - fraud)
    caught_amount = np.cumsum(amounts[order] * fraud)
    # Only cut where the score changes: equal scores are flagged together.
    last_of_run = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    return sorted_scores[last_of_run], tp[last_of_run], fp[last_of_run], caught_amount[last_of_run]


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, amounts: np.ndarray, params: ThresholdParams
) -> ThresholdChoice:
    cuts, tp, fp, caught = _sweep(y_true, scores, amounts)
    positives = max(int(y_true.sum()), 1)
    precision = tp / (tp + fp)
    recall = tp / positives
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)

    if params.strategy == "max_f1":
        best = int(np.argmax(f1))
        return ThresholdChoice(float(cuts[best]), "max_f1", True)

    if params.strategy == "min_precision":
        ok = np.flatnonzero(precision >= params.min_precision)
        if ok.size:
            best = int(ok[np.argmax(recall[ok])])
            return ThresholdChoice(float(cuts[best]), "min_precision", True)
        best = int(np.argmax(f1))
        return ThresholdChoice(
            float(cuts[best]),
            "min_precision",
            False,
            note=(
                f"no threshold reaches precision {params.min_precision:g} on validation "
                f"(best {precision.max():.3f}); fell back to max F1"
            ),
        )

    total_fraud_amount = float(amounts[y_true == 1].sum())
    cost = params.review_cost * (tp + fp) + (total_fraud_amount - caught)
    best = int(np.argmin(cost))
    # Flagging nothing is also an option; it costs every fraud's amount.
    if total_fraud_amount <= cost[best]:
        return ThresholdChoice(
            float(np.nextafter(cuts[0], np.inf)),
            "min_cost",
            True,
            note="reviewing costs more than it saves at any threshold: nothing is flagged",
        )
    return ThresholdChoice(float(cuts[best]), "min_cost", True)
