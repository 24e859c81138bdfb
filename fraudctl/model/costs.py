"""What a fit costs, predicted from the data's shape: the unit of ``selection.budget``.

Selection under a budget plans with these predictions and never with the clock: a plan that
stopped when the wall clock ran out would choose another model on a busier machine, and
"same params + same data => same model" (and DVC reproducing the committed model byte for
byte in a fresh clone) would no longer hold. A prediction is in the seconds of one
reference machine (2 cores, nothing else running); each family states its coefficients
beside its factory (:mod:`fraudctl.model.families`), measured by ``python -m
benchmarks.costs``, which also reports how far the predictions are from the fits it times.

The model is deliberately simple: a fixed part per fit, plus a part proportional to the
rows fitted times the inputs (numeric and categorical inputs at their own rates), both
scaled by the block's amount of work (its number of trees: each tree has its own overhead).
Scoring the fold's validation block is folded into the coefficients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fraudctl.config import ImbalanceParams

MICROSECOND = 1e-6


@dataclass(frozen=True)
class Shape:
    """The rows one fit sees and the kinds of its inputs."""

    rows: int
    frauds: int
    numeric: int
    categorical: int

    def with_rows(self, rows: int, frauds: int) -> Shape:
        return Shape(rows, frauds, self.numeric, self.categorical)


@dataclass(frozen=True)
class Cost:
    """Predicted seconds of one fit (and scoring a fold's validation block) on the
    reference machine: (``fixed`` + rows x (numeric inputs x ``per_numeric`` + categorical
    inputs x ``per_categorical``) microseconds) times the block's ``work`` key over the
    value it had when measured (e.g. n_estimators / 500)."""

    fixed: float
    per_numeric: float
    per_categorical: float
    work: str | None = None
    measured_work: float = 1.0

    def seconds(self, shape: Shape, block: Mapping[str, Any] | None = None) -> float:
        scale = 1.0
        if self.work is not None and block is not None and self.work in block:
            scale = float(block[self.work]) / self.measured_work
        cells = shape.numeric * self.per_numeric + shape.categorical * self.per_categorical
        return (self.fixed + shape.rows * cells * MICROSECOND) * scale


def resampled(shape: Shape, imbalance: ImbalanceParams) -> list[Shape]:
    """The shapes of the fits ``model.imbalance`` makes of ``shape`` (one per bag): the
    rows it drops or adds change the cost as much as the family does."""
    frauds, legit = shape.frauds, max(shape.rows - shape.frauds, 0)
    if imbalance.resample == "none" or frauds == 0 or frauds / max(legit, 1) >= imbalance.ratio:
        return [shape]
    if imbalance.resample == "smote":
        added = round(legit * imbalance.ratio) - frauds
        return [shape.with_rows(shape.rows + added, frauds + added)]
    kept = frauds + round(frauds / imbalance.ratio)
    bags = imbalance.bags if imbalance.resample == "balanced_bagging" else 1
    return [shape.with_rows(kept, frauds)] * bags
