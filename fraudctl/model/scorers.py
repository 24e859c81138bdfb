"""The fastest exact scorer of a fitted model, for serving and `fraudctl score`.

A scikit-learn ``predict_proba`` costs a few hundred microseconds of input checks per call,
more than the arithmetic of one row, and LightGBM's booster is slower again on large
batches. So each model is scored its own quickest way with the same numbers:

- LightGBM's trees compiled to machine code (:mod:`fraudctl.model.forest`), or its
  booster where the forest does not compile;
- an imputed, scaled linear model as the same numpy operations its pipeline performs;
- a blend's members each by their own scorer, then the blend's own arithmetic;
- anything else through ``predict_proba``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

# (rows, features) float64 -> fraud probabilities
Scorer = Callable[[np.ndarray], np.ndarray]


def scorer_for(kind: str, estimator: Any, threads: int = 1) -> tuple[Scorer, str]:
    """(scorer, engine): the engine names the code that scores, for ``/model``.

    ``threads`` > 1 lets the compiled forest split a large batch's rows between threads
    (it keeps small ones, and every single row, on one).
    """
    from fraudctl.model.ensemble import BlendClassifier
    from fraudctl.model.families import family

    if isinstance(estimator, BlendClassifier):
        parts = [
            scorer_for(member_kind, member, threads) for member_kind, member in estimator.members
        ]
        members = [member for member, _ in parts]

        def blended(matrix: np.ndarray) -> np.ndarray:
            return estimator.blend(np.column_stack([member(matrix) for member in members]))

        return blended, "blend(" + ", ".join(engine for _, engine in parts) + ")"
    booster = getattr(estimator, "booster_", None)
    if family(kind).fast_scoring and booster is not None:
        from fraudctl.model.forest import compile_booster

        forest = compile_booster(booster)
        if forest is not None:
            return partial(forest.probabilities, threads=threads), "compiled-forest"
        return partial(booster.predict, num_threads=1), "lightgbm-booster"
    linear = linear_scorer(estimator)
    if linear is not None:
        return linear, "numpy-linear"
    return partial(_predict_proba, estimator), "predict_proba"


def _predict_proba(estimator: Any, matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # Fitted on a DataFrame, scored on an array with the same column order.
        warnings.simplefilter("ignore", UserWarning)
        return estimator.predict_proba(matrix)[:, 1]


def linear_scorer(estimator: Any) -> Scorer | None:
    """A median-imputed, optionally standardised logistic regression (a scikit-learn
    pipeline of exactly those steps) as numpy, or None for anything else."""
    from scipy.special import expit
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(estimator, Pipeline):
        return None
    steps = [step for _, step in estimator.steps]
    imputer, *scalers, linear = steps
    if (
        type(imputer) is not SimpleImputer
        or imputer.strategy != "median"
        or imputer.add_indicator
        or np.isnan(np.asarray(imputer.statistics_, dtype=np.float64)).any()  # dropped columns
        or len(scalers) > 1
        or any(
            type(scaler) is not StandardScaler or not (scaler.with_mean and scaler.with_std)
            for scaler in scalers
        )
        or type(linear) is not LogisticRegression
        or linear.coef_.shape[0] != 1
    ):
        return None
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    mean = scale = None
    if scalers:
        mean, scale = scalers[0].mean_, scalers[0].scale_
    coef = np.ascontiguousarray(linear.coef_.T)
    intercept = linear.intercept_

    def score(matrix: np.ndarray) -> np.ndarray:
        rows = np.where(np.isnan(matrix), fill, matrix)
        if mean is not None:
            rows = (rows - mean) / scale
        return expit((rows @ coef + intercept)[:, 0])

    return score
