"""Metrics that matter at a 0.17 % fraud rate, and the curves behind them.

Accuracy and ROC-AUC flatter a fraud model; the headline here is PR-AUC (average
precision), recall at a fixed false-positive budget, precision among the top-k alerts,
and money: what the alerts catch, what slips through, and what reviewing costs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_CURVE_POINTS = 500


@dataclass(frozen=True)
class Counts:
    """Confusion counts at a threshold."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def alerts(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        return self.tp / self.alerts if self.alerts else 0.0

    @property
    def recall(self) -> float:
        positives = self.tp + self.fn
        return self.tp / positives if positives else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_rate(self) -> float:
        negatives = self.fp + self.tn
        return self.fp / negatives if negatives else 0.0


def counts_at(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> Counts:
    flagged = scores >= threshold
    positive = y_true == 1
    tp = int(np.sum(flagged & positive))
    fp = int(np.sum(flagged & ~positive))
    fn = int(np.sum(~flagged & positive))
    return Counts(tp=tp, fp=fp, fn=fn, tn=len(y_true) - tp - fp - fn)


def pr_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y_true, scores))


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_true, scores))


def recall_at_fpr(y_true: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """The best recall reachable while flagging at most ``max_fpr`` of legitimate rows."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(tpr[fpr <= max_fpr].max())


def precision_at_k(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of frauds among the k highest scores: what a review team with k slots sees."""
    k = min(k, len(scores))
    top = np.argsort(-scores, kind="stable")[:k]
    return float(y_true[top].mean())


def money(
    y_true: np.ndarray,
    scores: np.ndarray,
    amounts: np.ndarray,
    threshold: float,
    review_cost: float,
) -> dict[str, float]:
    """Fraud amount caught and missed at a threshold, and the cost of reviews plus misses."""
    flagged = scores >= threshold
    fraud = y_true == 1
    caught = float(amounts[flagged & fraud].sum())
    missed = float(amounts[~flagged & fraud].sum())
    alerts = int(flagged.sum())
    return {
        "fraud_amount_caught": round(caught, 2),
        "fraud_amount_missed": round(missed, 2),
        "expected_cost": round(alerts * review_cost + missed, 2),
    }


def classification_metrics(
    y_true: np.ndarray,
    scores: np.ndarray,
    amounts: np.ndarray | None,
    threshold: float,
    *,
    max_fpr: float,
    top_k: int,
    review_cost: float,
) -> dict[str, float]:
    """Every headline number for one split, as a flat mapping (what dvc metrics shows).

    Without amounts (``data.schema.amount: null``) the money metrics are left out rather
    than reported as zeros: a table without amounts says nothing about money."""
    counts = counts_at(y_true, scores, threshold)
    money_metrics = (
        {} if amounts is None else money(y_true, scores, amounts, threshold, review_cost)
    )
    return {
        "pr_auc": pr_auc(y_true, scores),
        "roc_auc": roc_auc(y_true, scores),
        "threshold": float(threshold),
        "precision": counts.precision,
        "recall": counts.recall,
        "f1": counts.f1,
        "false_positive_rate": counts.false_positive_rate,
        "recall_at_fpr": recall_at_fpr(y_true, scores, max_fpr),
        "precision_at_k": precision_at_k(y_true, scores, top_k),
        "alerts": counts.alerts,
        "true_positives": counts.tp,
        "false_positives": counts.fp,
        "false_negatives": counts.fn,
        **money_metrics,
        "rows": len(y_true),
        "frauds": int(y_true.sum()),
    }


def _corners(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positions of the points a drawing needs: the ends, and every point where the curve
    turns. Inside a run of equal x (a vertical segment: false alarms at one recall) or of
    equal y, only the run's first and last points matter; the polyline is unchanged."""
    n = len(x)
    if n <= 2:
        return np.arange(n)
    keep = np.ones(n, dtype=bool)
    inner = slice(1, n - 1)
    same_x = (x[:-2] == x[1:-1]) & (x[1:-1] == x[2:])
    same_y = (y[:-2] == y[1:-1]) & (y[1:-1] == y[2:])
    keep[inner] = ~(same_x | same_y)
    return np.flatnonzero(keep)


def _by_distance(x: np.ndarray, y: np.ndarray, points: int) -> np.ndarray:
    """At most about ``points`` positions, spaced evenly by distance along the curve: the
    drawn curve stays within one spacing of the true one everywhere, however the points
    crowd (at a 0.2 % fraud rate nearly all thresholds sit at recall near 1)."""
    step = np.hypot(np.diff(x), np.diff(y))
    along = np.concatenate([[0.0], np.cumsum(step)])
    if along[-1] == 0.0:
        return np.array([0, len(x) - 1])
    spacing = along[-1] / (points - 1)
    bucket = np.floor(along / spacing).astype(np.int64)
    first = np.flatnonzero(np.diff(bucket, prepend=-1) != 0)
    return np.unique(np.concatenate([first, [len(x) - 1]]))


def thin_curve(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Keep curves small enough for dvc plots and git: every turn of the curve, and when
    those are still too many, points evenly spaced along it (never evenly spaced by
    threshold, which drops the high-precision start of a PR curve at this class balance)."""
    keep = _corners(frame[x].to_numpy(), frame[y].to_numpy())
    if len(keep) > MAX_CURVE_POINTS:
        xs, ys = frame[x].to_numpy()[keep], frame[y].to_numpy()[keep]
        keep = keep[_by_distance(xs, ys, MAX_CURVE_POINTS)]
    return frame.iloc[keep].reset_index(drop=True)


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Precision against recall, recall increasing: scikit-learn's curve, thinned."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y_true, scores)
    frame = pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})
    return thin_curve(frame, "recall", "precision")


def roc_curve_frame(y_true: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, scores)
    return thin_curve(pd.DataFrame({"fpr": fpr, "tpr": tpr}), "fpr", "tpr")


def calibration_frame(y_true: np.ndarray, scores: np.ndarray, bins: int) -> pd.DataFrame:
    """Observed fraud rate against mean predicted probability, in bins that each hold an
    equal share of the expected frauds (the sum of the predictions).

    Equal-width bins are nearly all empty at this class balance, and equal-count bins put
    nine bins of ten below 1e-4, where no fraud is expected: every point then sits in one
    corner. Here each bin holds about as many expected frauds, so each point says something
    and the riskiest scores get bins of their own. ``rows`` is each bin's size."""
    order = np.argsort(scores, kind="stable")
    ranked, labels = np.asarray(scores, dtype=np.float64)[order], np.asarray(y_true)[order]
    mass = np.cumsum(ranked)
    total = mass[-1] if len(mass) else 0.0
    if total <= 0.0:
        edges = np.linspace(0, len(ranked), bins + 1).round().astype(int)
    else:
        cuts = np.searchsorted(mass, total * np.arange(1, bins) / bins, side="left")
        edges = np.unique(np.concatenate([[0], cuts, [len(ranked)]]))
    rows = [
        (float(ranked[a:b].mean()), float(labels[a:b].mean()), b - a)
        for a, b in itertools.pairwise(edges.tolist())
        if b > a
    ]
    return pd.DataFrame(rows, columns=["predicted", "observed", "rows"])


def confusion_frame(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> pd.DataFrame:
    """The four cells as (actual, predicted, count) rows. DVC's stock confusion template
    wants a row per transaction (57,000 rows, a 7 MB plots page); the project's template
    ``.dvc/plots/confusion_counts.json`` sums ``count`` instead."""
    actual = y_true.astype(int)
    predicted = (scores >= threshold).astype(int)
    rows = [
        {"actual": a, "predicted": p, "count": int(np.sum((actual == a) & (predicted == p)))}
        for a in (0, 1)
        for p in (0, 1)
    ]
    return pd.DataFrame(rows)


def card_precision_at_k(
    y_true: np.ndarray, scores: np.ndarray, entity: np.ndarray, day: np.ndarray, k: int
) -> float:
    """Mean over days of the fraud share among the k most suspicious entities (cards).

    An entity's daily score is its highest transaction score that day, and it is a fraud
    that day if any of its transactions is. Entities already caught (a fraud among an
    earlier day's top k) are left out of later days: investigators block those cards, so
    they cannot be alerts again. This is how fraud teams count a day's useful alerts.
    """
    precisions = card_precision_by_day(y_true, scores, entity, day, k)
    return float(np.mean(precisions)) if precisions else 0.0


def card_precision_by_day(
    y_true: np.ndarray, scores: np.ndarray, entity: np.ndarray, day: np.ndarray, k: int
) -> list[float]:
    """:func:`card_precision_at_k` for each day that still has an entity to rank, in day
    order: how many days the mean is over is part of the answer."""
    frame = pd.DataFrame({"entity": entity, "day": day, "score": scores, "fraud": y_true})
    daily = frame.groupby(["day", "entity"], sort=True).agg(
        score=("score", "max"), fraud=("fraud", "max")
    )
    caught: set[object] = set()
    precisions = []
    for _, today in daily.groupby(level="day", sort=True):
        entities = today.index.get_level_values("entity")
        today = today[~entities.isin(caught)]
        if today.empty:
            continue
        top = today.nlargest(k, "score")
        precisions.append(float(top["fraud"].sum()) / k)
        caught.update(top.index.get_level_values("entity")[top["fraud"].to_numpy() == 1])
    return precisions
