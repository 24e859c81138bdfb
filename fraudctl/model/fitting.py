"""Fitting, scoring and measuring one model: the library every stage that trains uses.

``train``, the prequential selection, ``tune``, ``evaluate``, the experiments and the Dask
engine call these, so there is one way to build, fit, score and measure a model; none of
them imports another stage module for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import EvaluateParams, ThresholdParams
from fraudctl.data.clock import DAY
from fraudctl.data.schema import Schema, seconds_of
from fraudctl.durations import DEFAULT_TIME_UNIT
from fraudctl.errors import ConfigError
from fraudctl.model.estimators import build_estimator
from fraudctl.model.families import ModelSpec
from fraudctl.model.imbalance import fitted_model
from fraudctl.model.metrics import card_precision_by_day, classification_metrics
from fraudctl.model.threshold import ThresholdChoice, choose_threshold


def fit(model: ModelSpec, seed: int, frame: pd.DataFrame, schema: Schema) -> Any:
    """A fitted estimator of the configured kind, trained on ``frame``."""
    estimator, options = build_estimator(model, seed, schema.features, schema.categorical)
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


def day_numbers(times: pd.Series, unit: str = DEFAULT_TIME_UNIT) -> np.ndarray:
    """The day of each transaction (card precision@k is counted per day): UTC days of a
    datetime, or whole days since a numeric clock's zero, through its unit."""
    if pd.api.types.is_datetime64_any_dtype(times):
        return times.astype("int64").to_numpy() // (int(DAY) * 10**9)
    return np.floor(seconds_of(times, unit) / DAY).astype(np.int64)


def split_metrics(
    settings: EvaluateParams,
    review_cost: float,
    frame: pd.DataFrame,
    schema: Schema,
    scores: np.ndarray,
    threshold: float,
) -> dict[str, float]:
    """The project's metric set for one split at a threshold (shared with evaluate);
    ``review_cost`` is threshold.review_cost, the price of one alert."""
    y = frame[schema.target].to_numpy()
    results = classification_metrics(
        y,
        scores,
        amounts(frame, schema) if schema.amount else None,
        threshold,
        max_fpr=settings.max_false_positive_rate,
        top_k=settings.top_k,
        review_cost=review_cost,
    )
    if schema.entities:
        role = settings.card_entity or next(iter(schema.entities))
        column = schema.entities.get(role)
        if column is None:
            raise ConfigError(
                f"evaluate.card_entity: {role!r} is not an entity role "
                f"(declared: {', '.join(schema.entities)})"
            )
        daily = card_precision_by_day(
            y,
            scores,
            frame[column].to_numpy(),
            day_numbers(frame[schema.time], schema.time_unit),
            settings.card_k,
        )
        results["card_precision_at_k"] = float(np.mean(daily)) if daily else 0.0
        results["card_precision_days"] = len(daily)
    return results


def choose_on_validation(
    settings: ThresholdParams, estimator: Any, validation: pd.DataFrame, schema: Schema
) -> tuple[ThresholdChoice, np.ndarray]:
    """The decision threshold for ``estimator``, picked on the validation split."""
    scores = score(estimator, validation, schema)
    choice = choose_threshold(
        validation[schema.target].to_numpy(), scores, amounts(validation, schema), settings
    )
    return choice, scores


def timed_fit(
    model: ModelSpec, seed: int, frame: pd.DataFrame, schema: Schema
) -> tuple[Any, float]:
    return timed(fit, model, seed, frame, schema)


def timed(fitting: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """A fit and its seconds on the clock (for MLflow: nothing is decided by them)."""
    import time

    started = time.perf_counter()
    estimator = fitting(*args)
    return estimator, time.perf_counter() - started


def fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of a split's content: models are only compared on the same data."""
    import hashlib

    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
