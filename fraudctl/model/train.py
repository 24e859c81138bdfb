"""Stage ``train``: fit on the train split, pick the threshold on validation, save and register.

Other stages (the experiments) reuse :func:`fit` and :func:`score` so there is one way to
build, fit and score a model in the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fraudctl import tracking
from fraudctl.config import Params, ProjectPaths
from fraudctl.data.prepare import load_schema, load_split
from fraudctl.data.schema import Schema
from fraudctl.io import atomic_directory, write_json
from fraudctl.model.estimators import build_estimator, library_requirements
from fraudctl.model.metrics import classification_metrics
from fraudctl.model.threshold import ThresholdChoice, choose_threshold
from fraudctl.progress import Progress, quiet

MODEL_ARTIFACT_PATH = "model"


@dataclass
class TrainResult:
    model_name: str
    threshold: ThresholdChoice
    validation: dict[str, float]
    fit_seconds: float
    run_id: str
    version: str
    promotion: tracking.Promotion
    train_rows: int


def fit(params: Params, frame: pd.DataFrame, schema: Schema, seed: int | None = None) -> Any:
    """A fitted estimator of the configured kind, trained on ``frame``."""
    estimator = build_estimator(params.model, params.base.seed if seed is None else seed)
    estimator.fit(frame[list(schema.features)], frame[schema.target].to_numpy())
    return estimator


def score(estimator: Any, frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Fraud probabilities for every row of ``frame``."""
    return estimator.predict_proba(frame[list(schema.features)])[:, 1]


def split_metrics(
    params: Params, frame: pd.DataFrame, schema: Schema, scores: np.ndarray, threshold: float
) -> dict[str, float]:
    """The project's metric set for one split at a threshold (shared with evaluate)."""
    return classification_metrics(
        frame[schema.target].to_numpy(),
        scores,
        frame[schema.amount].to_numpy(),
        threshold,
        max_fpr=params.evaluate.max_false_positive_rate,
        top_k=params.evaluate.top_k,
        review_cost=params.threshold.review_cost,
    )


def choose_on_validation(
    params: Params, estimator: Any, validation: pd.DataFrame, schema: Schema
) -> tuple[ThresholdChoice, np.ndarray]:
    """The decision threshold for ``estimator``, picked on the validation split."""
    scores = score(estimator, validation, schema)
    choice = choose_threshold(
        validation[schema.target].to_numpy(),
        scores,
        validation[schema.amount].to_numpy(),
        params.threshold,
    )
    return choice, scores


def _flat_params(params: Params) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "model": params.model.name,
        "seed": params.base.seed,
        "data_source": params.data.source,
        "split_method": params.split.method,
    }
    flat.update({f"model.{k}": v for k, v in params.model.hyperparameters().items()})
    flat.update({f"threshold.{k}": v for k, v in params.threshold.model_dump().items()})
    return flat


def train(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> TrainResult:
    import time

    schema = load_schema(paths)
    progress("loading splits")
    train_frame = load_split(paths, "train")
    validation = load_split(paths, "validation")

    progress(f"fitting {params.model.name} on {len(train_frame):,} rows")
    started = time.perf_counter()
    estimator = fit(params, train_frame, schema)
    fit_seconds = time.perf_counter() - started

    progress("choosing the decision threshold on validation")
    choice, val_scores = choose_on_validation(params, estimator, validation, schema)
    val_metrics = split_metrics(params, validation, schema, val_scores, choice.value)

    progress("logging to MLflow")
    with tracking.run(
        params.tracking, params.tracking.experiment, run_name=f"train-{params.model.name}"
    ) as active:
        run_id = active.info.run_id
        tracking.log_params(_flat_params(params))
        tracking.log_metrics(val_metrics, prefix="val_")
        tracking.log_metrics({"fit_seconds": fit_seconds})
        metadata = {
            "fraudctl_model": params.model.name,
            "threshold": choice.value,
            "threshold_strategy": choice.strategy,
            "features": list(schema.features),
            "amount_column": schema.amount,
            "run_id": run_id,
            "registered_model": params.tracking.registered_model,
            "validation_metrics": {k: float(v) for k, v in val_metrics.items()},
        }
        example = validation[list(schema.features)].head(5)
        with atomic_directory(paths.model_dir) as staging:
            tracking.save_model(
                estimator,
                staging,
                example,
                estimator.predict_proba(example),
                metadata,
                library_requirements(params.model),
            )
            tracking.log_artifacts(staging, MODEL_ARTIFACT_PATH)
            progress("registering the model")
            version = tracking.register(params.tracking, run_id, MODEL_ARTIFACT_PATH)
            tracking.update_metadata(staging, {"registered_version": version})
        promotion = tracking.promote_if_better(params.tracking, version, val_metrics["pr_auc"])
        tracking.set_tags({"registered_version": version, "champion": str(promotion.promoted)})

    write_json(
        paths.train_report,
        {
            "model": params.model.name,
            "threshold": choice.value,
            "threshold_strategy": choice.strategy,
            "threshold_satisfied": choice.satisfied,
            "validation": val_metrics,
        },
    )
    return TrainResult(
        model_name=params.model.name,
        threshold=choice,
        validation=val_metrics,
        fit_seconds=fit_seconds,
        run_id=run_id,
        version=version,
        promotion=promotion,
        train_rows=len(train_frame),
    )
