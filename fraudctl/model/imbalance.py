"""Resampling for class imbalance, applied to the rows a model is fitted on and nothing else.

:func:`with_resampling` wraps any family's estimator; the wrapper resamples inside ``fit``,
so validation folds, the threshold's rows and the test split are never resampled. After
fitting, :func:`fitted_model` unwraps it: the saved model is the plain estimator (or, for
balanced bagging, a blend of the bags), so scoring pays nothing for the resampling.

- ``smote``: synthetic frauds between fraud neighbours (SMOTENC when some inputs are
  categorical). Neighbours are found on a median-imputed copy, because history features
  are missing for first transactions; the original rows keep their missing values.
- ``random_undersample``: drop legitimate rows at random.
- ``balanced_bagging``: ``bags`` models, each on every fraud and its own random sample of
  legitimate rows, averaged.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import ImbalanceParams


class Resampled:
    """An estimator fitted on resampled rows; ``fitted_model()`` is what gets saved."""

    def __init__(
        self,
        estimator: Any,
        settings: ImbalanceParams,
        kind: str,
        categorical: list[int],
        seed: int,
    ) -> None:
        self.estimator = estimator
        self.settings = settings
        self.kind = kind
        self.categorical = categorical
        self.seed = seed
        self.model_: Any = None
        self.rows_seen_: int = 0

    def fit(self, rows: pd.DataFrame, labels: Any, **options: Any) -> Resampled:
        labels = np.asarray(labels)
        if self.settings.resample == "balanced_bagging":
            self.model_ = self._bagged(rows, labels, options)
            return self
        sampled_rows, sampled_labels = self.resample(rows, labels, self.seed)
        self.rows_seen_ = len(sampled_labels)
        self.model_ = copy.deepcopy(self.estimator).fit(sampled_rows, sampled_labels, **options)
        return self

    def resample(
        self, rows: pd.DataFrame, labels: np.ndarray, seed: int
    ) -> tuple[pd.DataFrame, np.ndarray]:
        if self._already_balanced(labels):
            return rows, labels
        if self.settings.resample == "smote":
            return self._smote(rows, labels, seed)
        from imblearn.under_sampling import RandomUnderSampler

        sampler = RandomUnderSampler(sampling_strategy=self.settings.ratio, random_state=seed)
        sampler.fit_resample(np.zeros((len(labels), 1)), labels)
        kept = np.sort(sampler.sample_indices_)  # time order survives
        return rows.iloc[kept], labels[kept]

    def _already_balanced(self, labels: np.ndarray) -> bool:
        frauds = int(labels.sum())
        return frauds == 0 or frauds / max(len(labels) - frauds, 1) >= self.settings.ratio

    def _smote(
        self, rows: pd.DataFrame, labels: np.ndarray, seed: int
    ) -> tuple[pd.DataFrame, np.ndarray]:
        from imblearn.over_sampling import SMOTE, SMOTENC

        frauds = int(labels.sum())
        neighbours = min(self.settings.smote_neighbours, frauds - 1)
        if neighbours < 1:
            return rows, labels
        filled = rows.fillna(rows.median(numeric_only=True)).fillna(0.0)
        if self.categorical:
            sampler: Any = SMOTENC(
                categorical_features=self.categorical,
                sampling_strategy=self.settings.ratio,
                k_neighbors=neighbours,
                random_state=seed,
            )
        else:
            sampler = SMOTE(
                sampling_strategy=self.settings.ratio, k_neighbors=neighbours, random_state=seed
            )
        sampled, sampled_labels = sampler.fit_resample(filled, labels)
        synthetic = pd.DataFrame(np.asarray(sampled)[len(rows) :], columns=rows.columns)
        combined = pd.concat([rows, synthetic.astype(rows.dtypes.to_dict())], ignore_index=True)
        return combined, np.asarray(sampled_labels)

    def _bagged(self, rows: pd.DataFrame, labels: np.ndarray, options: dict[str, Any]) -> Any:
        from fraudctl.model.ensemble import BlendClassifier

        bags = []
        for bag in range(self.settings.bags):
            bag_rows, bag_labels = self.resample(rows, labels, self.seed + bag)
            estimator = copy.deepcopy(self.estimator)
            _reseed(estimator, self.seed + bag)
            bags.append((self.kind, estimator.fit(bag_rows, bag_labels, **options)))
            self.rows_seen_ += len(bag_labels)
        return BlendClassifier(bags, method="mean")

    def predict_proba(self, rows: Any) -> np.ndarray:
        return self.model_.predict_proba(rows)

    def fitted_model(self) -> Any:
        return self.model_


def _reseed(estimator: Any, seed: int) -> None:
    """Each bag's model draws its own random numbers (where the library has a seed)."""
    for name in ("random_state", "seed"):
        if hasattr(estimator, "set_params") and name in getattr(estimator, "get_params", dict)():
            estimator.set_params(**{name: seed})
            return
    if hasattr(estimator, "seed"):
        estimator.seed = seed


def with_resampling(
    estimator: Any, settings: ImbalanceParams, kind: str, categorical: list[int], seed: int
) -> Any:
    if settings.resample == "none":
        return estimator
    return Resampled(estimator, settings, kind, categorical, seed)


def fitted_model(estimator: Any) -> Any:
    """The model to save and score with (a resampling wrapper is unwrapped)."""
    return estimator.fitted_model() if isinstance(estimator, Resampled) else estimator
