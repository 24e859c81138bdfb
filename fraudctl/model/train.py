"""Stage ``train``: fit on the train split, pick the threshold on validation, save and register.

Fitting, scoring and the metric set live in :mod:`fraudctl.model.fitting`, the library the
other stages use too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fraudctl import tracking
from fraudctl.config import ModelParams, Params
from fraudctl.data.schema import Schema
from fraudctl.data.splits import load_schema, load_split, load_transform
from fraudctl.errors import ConfigError
from fraudctl.faults import crash_point
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import atomic_directory, atomic_path, json_text, release_arrow_memory
from fraudctl.model import registry_record, saving
from fraudctl.model.contract import TRAINED_SPLITS, digest_features
from fraudctl.model.estimators import library_requirements
from fraudctl.model.fitting import (
    amounts,
    choose_on_validation,
    fingerprint,
    split_metrics,
    timed_fit,
)
from fraudctl.model.leakage import check_for_leaks
from fraudctl.model.threshold import ThresholdChoice, choose_threshold
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

if TYPE_CHECKING:
    from fraudctl.model.selection import CrossValidation

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


def _flat_params(params: Params) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "model": params.model.name,
        "imbalance.resample": params.model.imbalance.resample,
        "selection.folds": params.selection.folds,
        "seed": params.base.seed,
        "data_source": params.data.source,
        "split_method": params.split.method,
        "split_gap": params.split.gap,
    }
    flat.update({f"model.{k}": v for k, v in params.model.hyperparameters().items()})
    flat.update({f"threshold.{k}": v for k, v in params.threshold.model_dump().items()})
    return flat


def training_magnitudes(paths: ProjectPaths, transform: FeatureTransform) -> dict[str, float]:
    """The largest absolute value of each raw numeric input (and the amount) in the train
    split: scoring refuses numbers far beyond them (the contract's limits)."""
    columns = list(
        dict.fromkeys([*transform.numeric, *([transform.amount] if transform.amount else [])])
    )
    if not columns:
        return {}
    frame = pd.read_parquet(paths.split_file("train"), columns=columns)
    return {c: float(np.nanmax(np.abs(frame[c].to_numpy(dtype=np.float64)))) for c in columns}


def raw_example(paths: ProjectPaths, transform: FeatureTransform, rows: int = 5) -> pd.DataFrame:
    """A few raw validation rows, in the prepared table's column order: the MLflow model's
    input example and signature, and the order of the contract's raw columns."""
    from fraudctl.data.splits import prepared_head

    head = prepared_head(paths, "validation", rows)
    reads = set(transform.raw_columns)
    return head[[c for c in head.columns if c in reads]]


@dataclass
class Selected:
    """What model selection hands to recording: the same for both engines."""

    model: ModelParams  # the family chosen (model.name, or a selection candidate)
    estimator: Any
    fit_seconds: float
    threshold: ThresholdChoice
    validation: dict[str, float]
    selection: dict[str, Any]
    fingerprint: str
    train_rows: int


def train(
    params: Params,
    paths: ProjectPaths,
    progress: Progress = quiet,
    select_with: Callable[..., Selected] | None = None,
) -> TrainResult:
    """Select, save and register a model; ``select_with`` is the engine's selection
    (:mod:`fraudctl.engines`), this process's :func:`select` by default."""
    schema = load_schema(paths)  # names the first stage that has not run
    transform = load_transform(paths)
    selected = (select_with or select)(params, paths, schema, progress)
    params = params.model_copy(update={"model": selected.model})
    return record(params, paths, schema, transform, selected, progress)


def compare_families(
    params: Params, period: pd.DataFrame, schema: Schema, progress: Progress = quiet
) -> tuple[Params, CrossValidation, dict[str, float]]:
    """Prequential CV of model.name and each of selection.candidates on the same folds:
    (params with the winner as model.name, its CV, every family's mean out-of-fold PR-AUC).
    The test split plays no part; a tie keeps the earlier family."""
    from fraudctl.model.selection import cross_validate

    names = list(dict.fromkeys([params.model.name, *params.selection.candidates]))
    compared: dict[str, float] = {}
    best: tuple[Params, CrossValidation] | None = None
    for name in names:
        candidate = params.model_copy(
            update={"model": params.model.model_copy(update={"name": name})}
        )
        if len(names) > 1:
            progress(f"comparing {', '.join(names)}: cross-validating {name}")
        try:
            cv = cross_validate(candidate, period, schema, progress)
        except ConfigError as exc:  # e.g. the network's PyTorch is not installed
            if name == params.model.name:
                raise
            raise ConfigError(
                f"selection.candidates: {name}: {exc}; or remove {name} from selection.candidates"
            ) from None
        # Three decimals in the report: the network's fourth decimal differs between CPUs
        # (its matrix kernels), and a tracked report must not change with the machine. The
        # choice below compares the unrounded scores.
        compared[name] = round(cv.mean_pr_auc, 3)
        if best is None or cv.mean_pr_auc > best[1].mean_pr_auc:
            best = (candidate, cv)
    assert best is not None
    if len(names) > 1:
        scores = ", ".join(f"{name} {score:.3f}" for name, score in compared.items())
        progress(f"out-of-fold PR-AUC: {scores}; training {best[0].model.name}")
    return best[0], best[1], compared


def check_fits_in_memory(paths: ProjectPaths, schema: Schema) -> None:
    """The train and validation splits and the library's own copy are in memory at once."""
    from fraudctl.capacity import TRAIN_COPIES, require_memory
    from fraudctl.io import read_json

    splits = read_json(paths.data_report)["splits"]
    rows = splits["train"]["rows"] + splits["validation"]["rows"]
    require_memory(rows * (len(schema.features) + 1), TRAIN_COPIES, "train")


def select(
    params: Params, paths: ProjectPaths, schema: Schema, progress: Progress = quiet
) -> Selected:
    """Fit and choose the threshold: prequential folds, or the validation split."""

    check_fits_in_memory(paths, schema)
    progress("loading splits")
    train_frame = load_split(paths, "train")
    validation = load_split(paths, "validation")

    progress("checking single features for label leaks")
    check_for_leaks(
        train_frame,
        list(schema.features),
        schema.target,
        params.features.leak_guard_auc,
        params.features.leak_guard_allow,
        params.base.seed,
    )

    selection: dict[str, Any] = {"method": "holdout", "validated_rows": len(validation)}
    if params.selection.folds:
        period = pd.concat([train_frame, validation], ignore_index=True)
        del train_frame, validation  # the period holds every row now
        release_arrow_memory()
        params, cv, compared = compare_families(params, period, schema, progress)
        selection = cv.summary()
        if len(compared) > 1:
            selection |= {"chosen": params.model.name, "candidates": compared}
        validated = period.iloc[cv.positions]
        progress("choosing the decision threshold on the out-of-fold scores")
        choice = choose_threshold(
            validated[schema.target].to_numpy(),
            cv.scores,
            amounts(validated, schema),
            params.threshold,
        )
        val_metrics = split_metrics(params, validated, schema, cv.scores, choice.value)
        progress(f"refitting {params.model.name} on the training period ({len(period):,} rows)")
        estimator, fit_seconds = timed_fit(params, period, schema)
        fitted_rows = len(period)
    else:
        validated = validation
        progress(f"fitting {params.model.name} on {len(train_frame):,} rows")
        estimator, fit_seconds = timed_fit(params, train_frame, schema)
        fitted_rows = len(train_frame)
        progress("choosing the decision threshold on validation")
        choice, val_scores = choose_on_validation(params, estimator, validation, schema)
        val_metrics = split_metrics(params, validation, schema, val_scores, choice.value)
    return Selected(
        model=params.model,
        estimator=estimator,
        fit_seconds=fit_seconds,
        threshold=choice,
        validation=val_metrics,
        selection=selection,
        fingerprint=fingerprint(validated[[*schema.features, schema.target]]),
        train_rows=fitted_rows,
    )


def record(
    params: Params,
    paths: ProjectPaths,
    schema: Schema,
    transform: FeatureTransform,
    selected: Selected,
    progress: Progress = quiet,
) -> TrainResult:
    """Log, save and register the selected model (the model and report renamed together)."""
    estimator, fit_seconds, choice = selected.estimator, selected.fit_seconds, selected.threshold
    val_metrics, selection = selected.validation, selected.selection
    data_fingerprint = selected.fingerprint

    progress("logging to MLflow")
    with tracking.run(
        params.tracking, params.tracking.experiment, run_name=f"train-{params.model.name}"
    ) as active:
        run_id = active.info.run_id
        tracking.log_params(_flat_params(params))
        tracking.log_metrics(val_metrics, prefix="val_")
        tracking.log_metrics({"fit_seconds": fit_seconds})
        if "fold_pr_auc" in selection:
            tracking.log_metrics(
                {
                    "cv_mean_pr_auc": selection["mean_pr_auc"],
                    "cv_std_pr_auc": selection["std_pr_auc"],
                    **{f"cv_fold{i}_pr_auc": v for i, v in enumerate(selection["fold_pr_auc"], 1)},
                }
            )
        tracking.set_tags({tracking.FINGERPRINT_TAG: data_fingerprint})
        metadata = {
            "kind": params.model.name,
            "threshold": choice.value,
            "threshold_strategy": choice.strategy,
            "features": list(schema.features),
            "amount_column": schema.amount,
            "registered_model": params.tracking.registered_model,
            "validation_metrics": {k: float(v) for k, v in val_metrics.items()},
            "validation_fingerprint": data_fingerprint,
        }
        report = {
            "model": params.model.name,
            "threshold": choice.value,
            "threshold_strategy": choice.strategy,
            "threshold_satisfied": choice.satisfied,
            # out-of-fold metrics on the training period under prequential selection
            "validation": val_metrics,
            "selection": {k: v for k, v in selection.items() if k != "seconds"},
        }
        # The model, its report and its registry record are one output: each is built under
        # a temporary name, and they are renamed one after the other only once the version
        # is registered. The record names the model's contract digest, so a crash between
        # two renames leaves a record that readers see is not this model's (not a wrong one).
        with (
            atomic_path(registry_record.registry_record_path(paths.model_dir)) as record_tmp,
            atomic_path(paths.train_report) as report_tmp,
        ):
            report_tmp.write_text(json_text(report), encoding="utf-8")
            with atomic_directory(paths.model_dir) as staging:
                saving.save_model(
                    staging,
                    transform,
                    estimator,
                    metadata,
                    raw_example(paths, transform),
                    library_requirements(params.model),
                    trained_on=digest_features(
                        paths, TRAINED_SPLITS, [*transform.output_columns, schema.target]
                    ),
                    magnitudes=training_magnitudes(paths, transform),
                )
                tracking.log_artifacts(staging, MODEL_ARTIFACT_PATH)
                progress("registering the model")
                crash_point("train:before-register")
                version = tracking.register(params.tracking, run_id, MODEL_ARTIFACT_PATH)
                crash_point("train:after-register")
                record_tmp.write_text(
                    json_text(
                        registry_record.registry_record(
                            staging, run_id, version, params.tracking.registered_model
                        )
                    ),
                    encoding="utf-8",
                )
            crash_point("train:after-model-swap")
        crash_point("train:after-record")
        promotion = tracking.promote_if_better(
            params.tracking, version, val_metrics["pr_auc"], data_fingerprint
        )
        crash_point("train:after-promotion")
        tracking.set_tags({"registered_version": version, "champion": str(promotion.promoted)})
    return TrainResult(
        model_name=params.model.name,
        threshold=choice,
        validation=val_metrics,
        fit_seconds=fit_seconds,
        run_id=run_id,
        version=version,
        promotion=promotion,
        train_rows=selected.train_rows,
    )
