"""The loaded model, with a fast single-row path, a batch path and exact tree explanations.

Requests carry raw transactions; :class:`~fraudctl.features.online.OnlineFeatures` turns
each into the model's inputs (history from the online store) with the same kernel the
features stage uses. For LightGBM models the trees are compiled and called on a float64
array: no DataFrame, no scikit-learn input checks, one thread. Its probabilities are the
same numbers the training stage computes (a test holds them to 1e-9). Other estimators go
through their own ``predict_proba`` on the same array.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fraudctl.errors import ArtifactError
from fraudctl.features.online import OnlineFeatures
from fraudctl.features.transform import FeatureTransform
from fraudctl.model.bundle import FraudModel
from fraudctl.model.families import family
from fraudctl.paths import DEFAULT_ONLINE_STORE

RISK_BANDS = ("low", "medium", "high")


def limit_math_threads() -> None:
    """One math thread per worker: scale with processes, not with contended threads."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


@dataclass
class Predictor:
    """A loaded model ready for requests: its transform's online path and a fast scorer."""

    model: FraudModel
    name: str
    version: str
    alias: str | None
    source: str
    online: OnlineFeatures
    threshold: float = 0.0
    scoring_threads: int = 1  # for large batches (ServeSettings.scoring_threads)
    _booster: Any = None
    _score: Any = None
    _engine: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.threshold = self.model.threshold
        booster = getattr(self.model.estimator, "booster_", None)
        if family(self.kind).fast_scoring and booster is not None:
            self._booster = booster  # LightGBM's own exact SHAP for /explain
        # The model's own scorer: the one evaluate, `score` and the pyfunc use.
        self._score, self._engine = self.model.scorer(self.scoring_threads), self.model.engine
        self.probabilities(np.zeros((1, len(self.features))))  # compile and warm up now

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def features(self) -> tuple[str, ...]:
        """The estimator's input columns (the transform's output)."""
        return tuple(self.model.features)

    @property
    def amount_column(self) -> str | None:
        return self.model.transform.amount

    @property
    def raw_only(self) -> bool:
        """True when requests carry the model inputs themselves (no transform work)."""
        transform = self.model.transform
        return not (transform.needs_time or transform.categorical)

    @property
    def validation_metrics(self) -> dict[str, float]:
        return dict(self.model.metadata.get("validation_metrics", {}))

    @property
    def engine(self) -> str:
        """Which code scores rows (:mod:`fraudctl.model.scorers`): e.g. the compiled forest,
        LightGBM's booster, numpy, a blend of those, or the estimator's predict_proba."""
        return self._engine

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probabilities for a (rows, features) float64 array."""
        return self._score(matrix)

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
        """Exact explanations only: a model-agnostic one needs a background sample."""
        from fraudctl.model.explainers import explainer_kind

        return explainer_kind(self.model.estimator, self.kind) != "agnostic"

    def explain(self, row: np.ndarray) -> tuple[float, dict[str, float], float]:
        """Probability, per-feature SHAP contributions (log-odds) and the base value.

        LightGBM computes exact tree SHAP itself (``pred_contrib``) on the loaded booster;
        other tree models go through :mod:`fraudctl.model.explainers`.
        """
        probability = float(self.probabilities(row)[0])
        if self._booster is not None:
            contributions = self._booster.predict(row, pred_contrib=True, num_threads=1)[0]
            values, base = contributions[:-1], float(contributions[-1])
        else:
            values, base = self._shap_values(row)
        return probability, dict(zip(self.features, map(float, values), strict=True)), base

    def _shap_values(self, row: np.ndarray) -> tuple[np.ndarray, float]:
        import pandas as pd

        from fraudctl.model.explainers import contributions

        frame = pd.DataFrame(row, columns=list(self.features))
        with self._lock:  # shap's explainers are not documented as thread-safe
            values, base = contributions(self.model.estimator, self.kind, frame)
        return values[0], base

    def describe(self) -> dict[str, Any]:
        transform = self.model.transform
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "kind": self.kind,
            "engine": self.engine,
            "source": self.source,
            "threshold": self.threshold,
            "features": list(self.features),
            "inputs": input_columns(transform),
            "history_features": transform.needs_history,
            "validation_metrics": self.validation_metrics,
        }


def input_columns(transform: FeatureTransform) -> list[str]:
    """The raw fields a request carries: what the transform reads (an amount that is not
    a model input is read only by history features)."""
    columns = [transform.time] if transform.needs_time else []
    columns += [transform.entities[spec.role] for spec in transform.specs]
    columns += [*transform.numeric, *transform.categorical]
    if transform.amount and transform.amount not in columns and transform.specs:
        columns.append(transform.amount)
    return list(dict.fromkeys(columns))


def load_predictor(
    model: str,
    tracking_uri: str | None = None,
    online_store: str | None = None,
    scoring_threads: int = 1,
) -> Predictor:
    """Load a local MLflow model directory, or fetch ``models:/name@alias`` from the registry.

    A model with history features opens its online store (``online_store``), which must
    have been loaded by `fraudctl features materialize`.
    """
    limit_math_threads()
    from fraudctl.model.bundle import load_model
    from fraudctl.model.registry_record import read_registry_record

    alias = registry_version = registered_name = None
    if model.startswith("models:/"):
        path, registry_version = _download(model, tracking_uri)
        alias = model.split("@", 1)[1] if "@" in model else None
        registered_name = model.removeprefix("models:/").split("@", 1)[0].split("/", 1)[0]
        record: dict[str, Any] = {}
    else:
        path = Path(model)
        if not path.is_dir():
            raise ArtifactError(
                f"{model}: model directory not found; run `fraudctl train` "
                "or pass --model models:/fraud-detector@champion"
            )
        record = read_registry_record(path)
    loaded = load_model(path)
    store = None
    if loaded.transform.needs_history:
        from fraudctl.features.online import open_store

        uri = online_store or DEFAULT_ONLINE_STORE
        store = open_store(uri)
        if store.count() == 0:
            raise ArtifactError(
                f"online store {uri} is empty but the model has history features; "
                "run `fraudctl features materialize` first"
            )
    return Predictor(
        model=loaded,
        name=registered_name or str(loaded.metadata.get("registered_model", "fraud-detector")),
        version=registry_version or str(record.get("version", "local")),
        alias=alias,
        source=model,
        online=OnlineFeatures(loaded.transform, store),
        scoring_threads=scoring_threads,
    )


def _download(uri: str, tracking_uri: str | None) -> tuple[Path, str]:
    from fraudctl.config import TrackingParams
    from fraudctl.tracking import download_model, registry_version

    params = TrackingParams(uri=tracking_uri) if tracking_uri else TrackingParams()
    # MLflow draws a progress bar per download: in a server's JSON log stream that is noise
    # repeated by every worker.
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    path = download_model(uri, params, Path(tempfile.mkdtemp(prefix="fraudctl-model-")))
    return path, registry_version(uri, params)
