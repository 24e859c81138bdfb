"""A loaded LightGBM booster that scikit-learn tools accept as a fitted classifier.

fairlearn's ThresholdOptimizer and SHAP take it as they take ``LGBMClassifier``. It lives
apart from :mod:`fraudctl.model.bundle` because defining it imports scikit-learn, which
batch scoring never needs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# From this many rows on, batch scoring compiles the trees (fraudctl.model.forest): its
# set-up (a few tenths of a second) is then repaid, and it scores on every core without the GIL.
COMPILE_FROM_ROWS = 200_000


def _classifier_base() -> type:
    from sklearn.base import BaseEstimator, ClassifierMixin

    return type("_ClassifierBase", (ClassifierMixin, BaseEstimator), {})


class BoosterClassifier(_classifier_base()):  # type: ignore[misc]
    """A LightGBM booster read from its text format, as a fitted scikit-learn classifier
    (fairlearn's ThresholdOptimizer and SHAP take it as they take LGBMClassifier)."""

    def __init__(self, booster: Any = None):
        self.booster = booster
        self.booster_ = booster
        self.classes_ = np.array([0, 1])
        self._forest: Any = None
        self._compiled = False

    def fit(self, *_: Any, **__: Any) -> BoosterClassifier:
        raise TypeError("a loaded model is not refitted; train a new one with `fraudctl train`")

    def predict(self, features: Any) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)

    @property
    def feature_names(self) -> list[str]:
        return list(self.booster_.feature_name())

    def predict_proba(self, features: Any) -> np.ndarray:
        matrix = np.ascontiguousarray(np.asarray(features, dtype=np.float64))
        forest = self._compiled_forest() if len(matrix) >= COMPILE_FROM_ROWS else None
        if forest is not None:
            fraud = forest.probabilities(matrix, threads=os.cpu_count() or 1)
        else:
            fraud = self.booster_.predict(matrix)
        return np.column_stack([1.0 - fraud, fraud])

    def _compiled_forest(self) -> Any:
        if not self._compiled:
            try:
                from fraudctl.model.forest import compile_booster
            except ImportError:  # pragma: no cover - numba comes with the serve extra
                compile_booster = None
            self._forest = compile_booster(self.booster_) if compile_booster else None
            self._compiled = True
        return self._forest
