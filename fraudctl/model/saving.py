"""Writing a model directory: payload, contract and MLflow wrapper, built in a scratch
folder and checked by loading it back before MLflow copies it into place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.features.transform import FeatureTransform
from fraudctl.model import contract as contracts
from fraudctl.model import payloads
from fraudctl.model.bundle import (
    FORMAT_VERSION,
    LOADER_MODULE,
    METADATA_FILE,
    PAYLOAD_DIR,
    TRANSFORM_FILE,
    load_payload,
)

UNSTABLE_MLMODEL_KEYS = ("utc_time_created", "model_uuid", "run_id", "mlflow_version")


def estimator_payload(estimator: Any, kind: str, directory: Path) -> str:
    """Write the fitted estimator in a format that loads without running code; returns
    the format's name (recorded in model.json)."""
    from fraudctl.model import families  # noqa: F401 - registers each family's format

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
    trained_on: list[contracts.FileDigest] | None = None,
    magnitudes: dict[str, float] | None = None,
) -> None:
    """Write the MLflow model directory ``path`` (which must not exist yet).

    ``raw_example`` holds a few raw rows in the training table's column order: the
    contract's column order and the MLflow signature come from it.
    """
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
        contracts.write_contract(
            payload,
            contracts.build_contract(
                payload,
                transform,
                raw_example,
                trained_on or [],
                str(metadata.get("validation_fingerprint", "")),
                magnitudes,
            ),
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
