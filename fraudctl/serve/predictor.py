"""The loaded model, with a fast single-row path, a batch path and exact tree explanations.

For LightGBM models the booster is called directly on a float64 array: no DataFrame, no
scikit-learn input checks, one thread. Its probabilities are the same numbers the
training stage computes (a test holds them to 1e-9). Other estimators go through their
own ``predict_proba`` on the same array.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fraudctl.errors import ArtifactError

RISK_BANDS = ("low", "medium", "high")


def limit_math_threads() -> None:
    """One math thread per worker: scale with processes, not with contended threads."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


@dataclass
class Predictor:
    estimator: Any
    features: tuple[str, ...]
    amount_column: str
    threshold: float
    name: str
    version: str
    alias: str | None
    source: str
    kind: str
    validation_metrics: dict[str, float] = field(default_factory=dict)
    _booster: Any = None
    _forest: Any = None
    _explainer: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        booster = getattr(self.estimator, "booster_", None)
        if self.kind == "lightgbm" and booster is not None:
            from fraudctl.serve.forest import compile_booster

            self._booster = booster
            self._forest = compile_booster(booster)
        self.probabilities(np.zeros((1, len(self.features))))  # compile and warm up now

    @property
    def engine(self) -> str:
        """Which code scores rows: the compiled forest, LightGBM's booster, or the estimator."""
        if self._forest is not None:
            return "compiled-forest"
        return "lightgbm-booster" if self._booster is not None else "predict_proba"

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probabilities for a (rows, features) float64 array."""
        if self._forest is not None:
            return self._forest.probabilities(matrix)
        if self._booster is not None:
            return self._booster.predict(matrix, num_threads=1)
        with warnings.catch_warnings():
            # Fitted on a DataFrame, scored on an array with the same column order.
            warnings.simplefilter("ignore", UserWarning)
            return self.estimator.predict_proba(matrix)[:, 1]

    def risk(self, probability: float) -> str:
        """high: flagged; medium: within half the threshold of being flagged; low: the rest."""
        if probability >= self.threshold:
            return "high"
        return "medium" if probability >= 0.5 * self.threshold else "low"

    def risks(self, probabilities: np.ndarray) -> list[str]:
        bands = np.digitize(probabilities, [0.5 * self.threshold, self.threshold])
        return [RISK_BANDS[b] for b in bands]

    @property
    def can_explain(self) -> bool:
        return self._booster is not None or self.kind in {"hist_gradient_boosting", "random_forest"}

    def explain(self, row: np.ndarray) -> tuple[float, dict[str, float], float]:
        """Probability, per-feature SHAP contributions (log-odds) and the base value.

        LightGBM computes exact tree SHAP itself (``pred_contrib``); other tree models
        use shap's TreeExplainer, built on first use.
        """
        probability = float(self.probabilities(row)[0])
        if self._booster is not None:
            contributions = self._booster.predict(row, pred_contrib=True, num_threads=1)[0]
            values, base = contributions[:-1], float(contributions[-1])
        else:
            values, base = self._shap_values(row)
        return probability, dict(zip(self.features, map(float, values), strict=True)), base

    def _shap_values(self, row: np.ndarray) -> tuple[np.ndarray, float]:
        with self._lock:
            if self._explainer is None:
                import shap

                self._explainer = shap.TreeExplainer(self.estimator)
        explanation = self._explainer(row)
        values = np.asarray(explanation.values)[0]
        base = np.asarray(explanation.base_values).reshape(-1)
        if values.ndim == 2:  # one column per class: keep the fraud class
            values, base = values[:, 1], base[1:]
        return values, float(base[0])

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "kind": self.kind,
            "engine": self.engine,
            "source": self.source,
            "threshold": self.threshold,
            "features": list(self.features),
            "validation_metrics": self.validation_metrics,
        }


def load_predictor(model: str, tracking_uri: str | None = None) -> Predictor:
    """Load a local MLflow model directory, or fetch ``models:/name@alias`` from the registry."""
    limit_math_threads()
    from fraudctl.tracking import load_estimator

    alias = registry_version = None
    if model.startswith("models:/"):
        path, registry_version = _download(model, tracking_uri)
        alias = model.split("@", 1)[1] if "@" in model else None
    else:
        path = Path(model)
        if not path.is_dir():
            raise ArtifactError(
                f"{model}: model directory not found; run `fraudctl train` "
                "or pass --model models:/fraud-detector@champion"
            )
    estimator, metadata = load_estimator(path)
    try:
        features = tuple(metadata["features"])
        threshold = float(metadata["threshold"])
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(
            f"{path}: the model has no fraudctl metadata (features, threshold); "
            "train it with `fraudctl train`"
        ) from None
    return Predictor(
        estimator=estimator,
        features=features,
        amount_column=str(metadata.get("amount_column", "Amount")),
        threshold=threshold,
        name=str(metadata.get("registered_model", "fraud-detector")),
        version=registry_version or str(metadata.get("registered_version", "local")),
        alias=alias,
        source=model,
        kind=str(metadata.get("fraudctl_model", "unknown")),
        validation_metrics=dict(metadata.get("validation_metrics", {})),
    )


def _download(uri: str, tracking_uri: str | None) -> tuple[Path, str]:
    from fraudctl.config import TrackingParams
    from fraudctl.tracking import download_model, registry_version

    params = TrackingParams(uri=tracking_uri) if tracking_uri else TrackingParams()
    path = download_model(uri, params, Path(tempfile.mkdtemp(prefix="fraudctl-model-")))
    return path, registry_version(uri, params)
