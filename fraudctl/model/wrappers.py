"""CatBoost behind the interface every other family has: ``fit`` and ``predict_proba`` on
the float matrix the feature transform produces.

CatBoost's native categorical handling (ordered target statistics) wants categories as
integers or strings, never floats; the transform codes categories as floats with NaN for
an unknown value. This wrapper converts the declared categorical columns (NaN -> -1, a
category of its own) on the way in, for training, scoring and explanations alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

UNKNOWN_CODE = -1


class CatBoostCodes:
    def __init__(
        self, hyperparameters: dict[str, Any], categorical: list[int], seed: int = 0
    ) -> None:
        self.hyperparameters = dict(hyperparameters)
        self.categorical = list(categorical)
        self.seed = seed
        self.model_: Any = None

    def __sklearn_is_fitted__(self) -> bool:
        """For scikit-learn's and fairlearn's checks on a pre-fitted model."""
        return True

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def _frame(self, rows: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        matrix = np.asarray(rows, dtype=np.float64)
        categorical = set(self.categorical)
        columns: dict[str, np.ndarray] = {}
        for index in range(matrix.shape[1]):
            column = matrix[:, index]
            if index in categorical:
                column = np.where(np.isnan(column), UNKNOWN_CODE, column).astype(np.int64)
            columns[f"f{index}"] = column
        return pd.DataFrame(columns)

    def _pool(self, rows: pd.DataFrame | np.ndarray, labels: Any = None) -> Any:
        from catboost import Pool

        return Pool(self._frame(rows), label=labels, cat_features=self.categorical or None)

    def fit(self, rows: pd.DataFrame | np.ndarray, labels: Any, **_: Any) -> CatBoostCodes:
        from catboost import CatBoostClassifier

        self.model_ = CatBoostClassifier(
            random_seed=self.seed,
            verbose=False,
            allow_writing_files=False,
            **self.hyperparameters,
        )
        self.model_.fit(self._pool(rows, np.asarray(labels)))
        return self

    def predict_proba(self, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(self._pool(rows))

    def shap_values(self, rows: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, float]:
        """Exact SHAP values in log-odds, computed by CatBoost itself."""
        raw = self.model_.get_feature_importance(self._pool(rows), type="ShapValues")
        return np.asarray(raw[:, :-1]), float(raw[0, -1])

    def save(self, path: Path) -> None:
        """CatBoost writes a random model id and the time training finished into the file;
        both are replaced (the id by a digest of the rest), so equal fits save equal bytes
        and DVC reproduces the model in a fresh clone."""
        import hashlib

        metadata = self.model_.get_metadata()
        metadata["train_finish_time"] = ""
        metadata["model_guid"] = ""
        self.model_.save_model(str(path), format="cbm")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        metadata["model_guid"] = "-".join(digest[i : i + 8] for i in range(0, 32, 8))
        self.model_.save_model(str(path), format="cbm")

    @classmethod
    def load(cls, path: Path) -> CatBoostCodes:
        from catboost import CatBoostClassifier

        model = CatBoostClassifier()
        model.load_model(str(path), format="cbm")
        loaded = cls({}, list(model.get_cat_feature_indices()))
        loaded.model_ = model
        return loaded
