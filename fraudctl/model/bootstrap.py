"""Bootstrap confidence intervals of the headline metrics, a second per few hundred draws.

The model scores the rows once; each resample re-weights rows (the count of times each was
drawn) and the metrics are recomputed from cumulative sums over the sorted scores. The card
and evaluate's disagreement check both use it.
"""

from __future__ import annotations

import numpy as np

INTERVAL_METRICS = ("pr_auc", "roc_auc", "recall_at_fpr", "precision", "recall")


def weighted_metrics(
    sorted_labels: np.ndarray,
    boundaries: np.ndarray,
    flagged: int,
    weights: np.ndarray,
    max_fpr: float,
) -> dict[str, float]:
    """PR-AUC (average precision), ROC-AUC, recall at ``max_fpr`` and precision/recall at
    the threshold, for rows sorted by descending score and weighted by ``weights``.
    ``boundaries`` are the last positions of each run of equal scores; ``flagged`` is how
    many sorted rows are at or above the threshold. With unit weights these equal
    scikit-learn's numbers (tested)."""
    tp = np.cumsum(weights * sorted_labels)[boundaries]
    fp = np.cumsum(weights * (1 - sorted_labels))[boundaries]
    positives, negatives = tp[-1], fp[-1]
    recall = tp / positives
    precision = tp / np.maximum(tp + fp, 1e-12)
    average_precision = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    fpr = np.r_[0.0, fp / negatives]
    tpr = np.r_[0.0, recall]
    roc = float(np.trapezoid(tpr, fpr))
    at_fpr = float(tpr[fpr <= max_fpr].max())
    tp_at = float(np.sum(weights[:flagged] * sorted_labels[:flagged]))
    alerts = float(np.sum(weights[:flagged]))
    return {
        "pr_auc": average_precision,
        "roc_auc": roc,
        "recall_at_fpr": at_fpr,
        "precision": tp_at / alerts if alerts else 0.0,
        "recall": tp_at / positives,
    }


def bootstrap_intervals(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    max_fpr: float,
    samples: int,
    confidence: float,
    seed: int,
) -> dict[str, tuple[float, float]]:
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order].astype(np.float64)
    boundaries = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(scores) - 1]
    flagged = int(np.sum(sorted_scores >= threshold))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in INTERVAL_METRICS}
    for _ in range(samples):
        weights = np.bincount(rng.integers(0, len(scores), len(scores)), minlength=len(scores))
        weights = weights[order].astype(np.float64)
        if not np.any(weights * sorted_labels) or np.all(weights * sorted_labels == weights):
            continue  # a resample without frauds (or without legitimate rows) has no curve
        for name, value in weighted_metrics(
            sorted_labels, boundaries, flagged, weights, max_fpr
        ).items():
            draws[name].append(value)
    tail = (1.0 - confidence) / 2.0
    return {
        name: (float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail)))
        for name, values in draws.items()
    }
