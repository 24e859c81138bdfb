"""The saved model: feature transform + estimator + threshold, in files that cannot run code.

A model directory is an MLflow model whose ``python_function`` flavour names a loader
module (:mod:`fraudctl.model.pyfunc`) and a data folder holding:

- ``transform.json``: the fitted feature transform (roles, vocabularies, definitions);
- the estimator in its family's own safe format (:mod:`fraudctl.model.payloads`: LightGBM
  text, XGBoost JSON, CatBoost binary, skops with trusted types, or a blend folder);
- ``model.json``: threshold, kind, feature order, validation metrics and fingerprint.

No pickle is written or read: a model file from the registry, a bucket or a pull request
cannot execute code when loaded. A directory in the old pickled format is refused with a
message saying to retrain.

Run-specific facts (run id, registry version) live beside the model in
``models/registry.json``, not inside it, so retraining the same params on the same data
gives a byte-identical model directory and DVC sees no change.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.errors import ArtifactError
from fraudctl.features.transform import FeatureTransform
from fraudctl.model import payloads

PAYLOAD_DIR = "fraudctl"
LOADER_MODULE = "fraudctl.model.pyfunc"
TRANSFORM_FILE = "transform.json"
METADATA_FILE = "model.json"
LIGHTGBM_FILE = payloads.LIGHTGBM.filename
FORMAT_VERSION = 2
# Run-specific facts beside the model (not inside: see the module docstring).
REGISTRY_FILE = "registry.json"
UNSTABLE_MLMODEL_KEYS = ("utc_time_created", "model_uuid", "run_id", "mlflow_version")


@dataclass
class FraudModel:
    """What every door applies to raw rows: transform -> estimator -> probability.

    The estimator is read from the payload on first use. Batch scoring of a LightGBM model
    never needs it: the trees are compiled straight from the payload's text file, so
    ``fraudctl score`` does not import LightGBM or scikit-learn (about a second of start-up).
    """

    transform: FeatureTransform
    metadata: dict[str, Any]
    payload: Path
    _estimator: Any = field(default=None, repr=False)
    _forest: Any = field(default=None, repr=False)
    _forest_tried: bool = field(default=False, repr=False)

    @property
    def estimator(self) -> Any:
        if self._estimator is None:
            self._estimator = _load_estimator(self.payload)
        return self._estimator

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    @property
    def kind(self) -> str:
        return str(self.metadata["kind"])

    @property
    def features(self) -> list[str]:
        return self.transform.output_columns

    def feature_frame(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.transform.apply(raw, history)

    def predict_features(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(features)[:, 1]

    def predict_raw(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> np.ndarray:
        matrix = self.transform.matrix(raw, history)
        forest = self._compiled_forest() if self._estimator is None else None
        if forest is not None:
            return forest.probabilities(matrix, threads=os.cpu_count() or 1)
        from fraudctl.model.booster import BoosterClassifier

        if isinstance(self.estimator, BoosterClassifier):
            return self.estimator.predict_proba(matrix)[:, 1]
        return self.predict_features(pd.DataFrame(matrix, columns=self.features))

    def warm_up(self) -> None:
        """Load the compiled kernels (numba's start-up, a few tenths of a second) now, so a
        caller can overlap it with reading its input."""
        if self.transform.specs:
            from fraudctl.features.kernel import warm_up

            warm_up()
        forest = self._compiled_forest()
        if forest is not None:
            forest.probabilities(np.zeros((1, forest.n_features)))

    def _compiled_forest(self) -> Any:
        if not self._forest_tried:
            self._forest_tried = True
            text_model = self.payload / LIGHTGBM_FILE
            if text_model.exists():
                try:
                    from fraudctl.serve.forest import compile_model_text
                except ImportError:  # pragma: no cover - numba comes with the serve extra
                    return None
                try:
                    self._forest = compile_model_text(text_model.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    self._forest = None  # the estimator load below says what is wrong
        return self._forest


# --- writing ---------------------------------------------------------------------------


def estimator_payload(estimator: Any, kind: str, directory: Path) -> str:
    """Write the fitted estimator in a format that loads without running code; returns
    the format's name (recorded in model.json)."""
    chosen = payloads.format_for(estimator, kind)
    chosen.save(estimator, directory / chosen.filename)
    return chosen.name


def save_model(
    path: Path,
    transform: FeatureTransform,
    estimator: Any,
    metadata: dict[str, Any],
    raw_example: pd.DataFrame,
    requirements: list[str],
) -> None:
    """Write the MLflow model directory ``path`` (which must not exist yet)."""
    import tempfile
    import warnings

    with tempfile.TemporaryDirectory(prefix="fraudctl-payload-") as scratch:
        payload = Path(scratch) / PAYLOAD_DIR
        payload.mkdir()
        _write_json(payload / TRANSFORM_FILE, transform.to_dict())
        chosen = estimator_payload(estimator, str(metadata["kind"]), payload)
        _write_json(
            payload / METADATA_FILE,
            {"format": FORMAT_VERSION, "estimator_format": chosen, **metadata},
        )
        model = load_payload(payload)
        probabilities = model.predict_raw(raw_example)
        with warnings.catch_warnings():
            # Entity ids are integers on purpose; MLflow's hint about missing ints is noise.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            _save_pyfunc(path, payload, raw_example, probabilities, requirements)
    _stabilise_mlmodel(path / "MLmodel")


def _save_pyfunc(
    path: Path,
    payload: Path,
    raw_example: pd.DataFrame,
    probabilities: np.ndarray,
    requirements: list[str],
) -> None:
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    mlflow.pyfunc.save_model(
        path=str(path),
        loader_module=LOADER_MODULE,
        data_path=str(payload),
        signature=infer_signature(raw_example, probabilities),
        input_example=raw_example,
        pip_requirements=requirements,
    )


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _stabilise_mlmodel(mlmodel: Path) -> None:
    """Drop the creation time and random ids MLflow writes, so equal models hash equal."""
    import yaml

    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    for key in UNSTABLE_MLMODEL_KEYS:
        spec.pop(key, None)
    mlmodel.write_text(yaml.safe_dump(spec, sort_keys=True), encoding="utf-8")


# --- reading ---------------------------------------------------------------------------


def payload_dir(path: Path) -> Path:
    """The data folder of a model directory, after checking it is ours and pickle-free."""
    import yaml

    path = Path(path)
    mlmodel = path / "MLmodel"
    if not mlmodel.exists():
        raise ArtifactError(
            f"{path}: not an MLflow model directory (no MLmodel file); run `fraudctl train` first"
        )
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
        flavour = spec["flavors"]["python_function"]
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{mlmodel}: unreadable MLmodel file ({exc})") from None
    if flavour.get("loader_module") != LOADER_MODULE or "data" not in flavour:
        raise ArtifactError(
            f"{path}: not a fraudctl model in the safe format (its loader is "
            f"{flavour.get('loader_module')!r}); models stored as pickles can run code when "
            "loaded and are refused: retrain it with `fraudctl train`"
        )
    return path / flavour["data"]


def load_model(path: Path, *, lazy: bool = False) -> FraudModel:
    """Load a model directory (``models/model`` or one downloaded from the registry).

    With ``lazy`` the estimator file is read on first use (batch scoring may never need it);
    otherwise a damaged estimator is reported here.
    """
    return load_payload(payload_dir(path), lazy=lazy)


def load_payload(payload: Path, *, lazy: bool = False) -> FraudModel:
    try:
        transform = FeatureTransform.from_dict(_read_json(payload / TRANSFORM_FILE))
        metadata = _read_json(payload / METADATA_FILE)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{payload}: unreadable model files ({exc})") from None
    if metadata.get("format") != FORMAT_VERSION:
        raise ArtifactError(
            f"{payload}: model format {metadata.get('format')!r} is not {FORMAT_VERSION}; "
            "retrain it with this version of fraudctl"
        )
    model = FraudModel(transform=transform, metadata=metadata, payload=payload)
    if not lazy:
        model.estimator  # noqa: B018 - read now, so a damaged file fails at load time
    return model


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing from the model directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc}); retrain the model") from None


def _load_estimator(payload: Path) -> Any:
    try:
        recorded = json.loads((payload / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    chosen = payloads.find_format(payload, recorded.get("estimator_format"))
    path = payload / chosen.filename
    if not path.exists():
        raise ArtifactError(f"{path}: missing from the model directory")
    return chosen.load(path)


def write_registry_record(model_dir: Path, record: dict[str, Any]) -> None:
    from fraudctl.io import write_json

    write_json(Path(model_dir).parent / REGISTRY_FILE, record)


def read_registry_record(model_dir: Path) -> dict[str, Any]:
    """Run id and registry version of the last `fraudctl train` that wrote ``model_dir``."""
    path = Path(model_dir).parent / REGISTRY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
