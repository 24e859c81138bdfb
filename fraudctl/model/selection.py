"""Prequential (rolling-origin) validation: honest model selection on the training period.

The training period (train + validation splits) is put in time order; its later part is
cut into ``folds`` consecutive validation blocks. Fold k fits on every row before block k
(less ``selection.gap``, for labels that arrive late) and scores block k. Pooled, the
out-of-fold scores cover several times more frauds than one validation split (on the ULB
table: 33 frauds in the old validation split), so the threshold and the comparison of
configurations are much less noisy. The test split is never read here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import SelectionParams
from fraudctl.data.clock import gap_clock
from fraudctl.data.schema import Schema, seconds_of
from fraudctl.durations import parse_duration
from fraudctl.errors import ConfigError
from fraudctl.model.families import ModelSpec
from fraudctl.model.metrics import pr_auc
from fraudctl.progress import Progress, quiet


@dataclass(frozen=True)
class Fold:
    number: int
    train: np.ndarray  # row positions in the training-period frame
    validation: np.ndarray


@dataclass
class CrossValidation:
    folds: list[Fold]
    scores: np.ndarray  # out-of-fold scores, aligned with ``positions``
    positions: np.ndarray  # every validated row, in time order
    fold_pr_auc: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mean_pr_auc(self) -> float:
        return float(np.mean(self.fold_pr_auc))

    def summary(self) -> dict[str, Any]:
        return {
            "method": "prequential",
            "folds": len(self.folds),
            "fold_pr_auc": self.fold_pr_auc,
            "mean_pr_auc": self.mean_pr_auc,
            "std_pr_auc": float(np.std(self.fold_pr_auc)),
            "validated_rows": len(self.positions),
            "seconds": self.seconds,
        }


def prequential_folds(
    times: np.ndarray, labels: np.ndarray, settings: SelectionParams, clock: str = ""
) -> list[Fold]:
    """Expanding-window folds; no validation row is earlier than a row its model saw.
    ``times`` are seconds; ``clock`` says what the time column spans, for a message about
    a gap that emptied a fold."""
    order = np.argsort(times, kind="stable")
    start = round(len(order) * settings.min_train)
    bounds = np.linspace(start, len(order), settings.folds + 1).round().astype(int)
    gap = parse_duration(settings.gap) if settings.gap else 0.0
    folds = []
    for number, (low, high) in enumerate(itertools.pairwise(bounds), 1):
        validation = order[low:high]
        first = times[validation].min()
        earlier = order[:low]
        # strictly before the block (less the gap): equal timestamps stay out of training
        train = earlier[times[earlier] < first - gap]
        if labels[train].sum() == 0 or labels[validation].sum() == 0:
            gap_hint = f", or a smaller selection.gap: {clock}" if clock else ""
            raise ConfigError(
                f"selection.folds: fold {number} of {settings.folds} has no frauds in its "
                f"{'training' if labels[train].sum() == 0 else 'validation'} rows; use "
                f"fewer folds or a smaller selection.min_train (or more data){gap_hint}"
            )
        folds.append(Fold(number, np.sort(train), np.sort(validation)))
    return folds


def period_folds(settings: SelectionParams, period: pd.DataFrame, schema: Schema) -> list[Fold]:
    """The prequential folds of a training period (the same for every model compared)."""
    labels = period[schema.target].to_numpy()
    seconds = seconds_of(period[schema.time], schema.time_unit)
    gap = settings.gap
    clock = (
        gap_clock(period[schema.time], schema, f"selection.gap ({gap})", parse_duration(gap))
        if gap
        else ""
    )
    return prequential_folds(seconds, labels, settings, clock)


def cross_validate(
    model: ModelSpec,
    seed: int,
    settings: SelectionParams,
    period: pd.DataFrame,
    schema: Schema,
    progress: Progress = quiet,
    after_fold: Callable[[int, float], None] | None = None,
    folds: list[Fold] | None = None,
) -> CrossValidation:
    """Fit and score every fold with the configured model; ``after_fold(k, pr_auc)`` may
    stop early (tuning prunes hopeless trials by raising there). ``folds``: the period's
    folds when the caller has them already."""
    import time

    from fraudctl.model.fitting import fit, score

    labels = period[schema.target].to_numpy()
    if folds is None:
        folds = period_folds(settings, period, schema)
    started = time.perf_counter()
    scores, positions, fold_scores = [], [], []
    for fold in folds:
        progress(
            f"fold {fold.number}/{len(folds)}: fitting {model.name} on "
            f"{len(fold.train):,} rows, validating on {len(fold.validation):,}"
        )
        estimator = fit(model, seed, period.iloc[fold.train], schema)
        fold_scores_k = score(estimator, period.iloc[fold.validation], schema)
        scores.append(fold_scores_k)
        positions.append(fold.validation)
        fold_scores.append(float(pr_auc(labels[fold.validation], fold_scores_k)))
        if after_fold is not None:
            after_fold(fold.number, fold_scores[-1])
    return CrossValidation(
        folds=folds,
        scores=np.concatenate(scores),
        positions=np.concatenate(positions),
        fold_pr_auc=fold_scores,
        seconds=time.perf_counter() - started,
    )
