"""Fitting, scoring and measuring one model: the library every stage that trains uses.

``train``, the prequential selection, ``tune``, ``evaluate``, the experiments and the Dask
engine call these, so there is one way to build, fit, score and measure a model; none of
them imports another stage module for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import Params
from fraudctl.data.schema import Schema
from fraudctl.errors import ConfigError
from fraudctl.model.estimators import build_estimator
from fraudctl.model.imbalance import fitted_model
from fraudctl.model.metrics import card_precision_at_k, classification_metrics
from fraudctl.model.threshold import ThresholdChoice, choose_threshold


def fit(params: Params, frame: pd.DataFrame, schema: Schema, seed: int | None = None) -> Any:
    """A fitted estimator of the configured kind, trained on ``frame``."""
    estimator, options = build_estimator(
        params.model,
        params.base.seed if seed is None else seed,
        schema.features,
        schema.categorical,
    )
    estimator.fit(frame[list(schema.features)], frame[schema.target].to_numpy(), **options)
    return fitted_model(estimator)


def score(estimator: Any, frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Fraud probabilities for every row of ``frame``."""
    return estimator.predict_proba(frame[list(schema.features)])[:, 1]


def amounts(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Transaction amounts for the money metrics; zeros when the data has no amount."""
    if schema.amount is None:
        return np.zeros(len(frame))
    return frame[schema.amount].to_numpy(dtype=np.float64)


def day_numbers(times: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(times):
        return times.astype("int64").to_numpy() // (86_400 * 10**9)
    return np.floor(times.to_numpy(dtype=np.float64) / 86_400).astype(np.int64)


def split_metrics(
    params: Params, frame: pd.DataFrame, schema: Schema, scores: np.ndarray, threshold: float
) -> dict[str, float]:
    """The project's metric set for one split at a threshold (shared with evaluate)."""
    y = frame[schema.target].to_numpy()
    results = classification_metrics(
        y,
        scores,
        amounts(frame, schema) if schema.amount else None,
        threshold,
        max_fpr=params.evaluate.max_false_positive_rate,
        top_k=params.evaluate.top_k,
        review_cost=params.threshold.review_cost,
    )
    if schema.entities:
        role = params.evaluate.card_entity or next(iter(schema.entities))
        column = schema.entities.get(role)
        if column is None:
            raise ConfigError(
                f"evaluate.card_entity: {role!r} is not an entity role "
                f"(declared: {', '.join(schema.entities)})"
            )
        results["card_precision_at_k"] = card_precision_at_k(
            y,
            scores,
            frame[column].to_numpy(),
            day_numbers(frame[schema.time]),
            params.evaluate.card_k,
        )
    return results


def choose_on_validation(
    params: Params, estimator: Any, validation: pd.DataFrame, schema: Schema
) -> tuple[ThresholdChoice, np.ndarray]:
    """The decision threshold for ``estimator``, picked on the validation split."""
    scores = score(estimator, validation, schema)
    choice = choose_threshold(
        validation[schema.target].to_numpy(), scores, amounts(validation, schema), params.threshold
    )
    return choice, scores


def timed_fit(params: Params, frame: pd.DataFrame, schema: Schema) -> tuple[Any, float]:
    import time

    started = time.perf_counter()
    estimator = fit(params, frame, schema)
    return estimator, time.perf_counter() - started


def fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of a split's content: models are only compared on the same data."""
    import hashlib

    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
