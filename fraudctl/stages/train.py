"""Stage ``train``: select a model on the training period, save it with its input contract,
log it to MLflow, register it and decide its promotion.

Selection is the library's (:func:`fraudctl.model.training.select`, or the Dask engine's
:func:`fraudctl.distributed.train.select_partitioned`: both return the same ``Selected``);
saving, tracking and promotion are written once, here. The rules in params.yaml are checked
against the fields of the model-to-be before anything is fitted, and saved inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudctl import tracking
from fraudctl.config import Params
from fraudctl.data.schema import Schema
from fraudctl.faults import crash_point
from fraudctl.features.outputs import load_schema, load_transform
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import atomic_directory, atomic_path, json_text
from fraudctl.model import registry_record, saving
from fraudctl.model.bundle import payload_dir
from fraudctl.model.contract import TRAINED_SPLITS, digest_features, read_contract
from fraudctl.model.estimators import library_requirements
from fraudctl.model.families import ModelSpec, model_spec
from fraudctl.model.rulebook import transform_fields
from fraudctl.model.threshold import ThresholdChoice
from fraudctl.model.training import (
    Selected,
    TrainingSettings,
    raw_example,
    training_magnitudes,
)
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet
from fraudctl.rules.ruleset import RuleSet
from fraudctl.stages.project import rules_of
from fraudctl.stages.promotion import Promotion, promote_trained

MODEL_ARTIFACT_PATH = "model"


@dataclass
class TrainResult:
    model_name: str
    threshold: ThresholdChoice
    validation: dict[str, float]
    fit_seconds: float
    run_id: str
    version: str
    # None when the caller decides promotion itself (the continuous-training loop)
    promotion: Promotion | None
    train_rows: int


def training_settings(params: Params) -> TrainingSettings:
    return TrainingSettings(
        model=model_spec(params.model),
        seed=params.base.seed,
        selection=params.selection,
        threshold=params.threshold,
        evaluate=params.evaluate,
        leak_guard_auc=params.features.leak_guard_auc,
        leak_guard_allow=tuple(params.features.leak_guard_allow),
    )


def run(
    params: Params, paths: ProjectPaths, progress: Progress = quiet, promote: bool = True
) -> TrainResult:
    """Select, save and register a model on the configured engine; ``promote=False``
    registers it as challenger and leaves the decision to the caller."""
    settings = training_settings(params)
    if params.compute.engine == "dask":
        from fraudctl.distributed.settings import dask_settings
        from fraudctl.distributed.train import check_supported, select_partitioned

        check_supported(settings.model)  # before any work
        dask = dask_settings(params.compute)

        def select(*args: Any) -> Selected:
            return select_partitioned(dask, *args)
    else:
        from fraudctl.model.training import select

    schema = load_schema(paths)  # names the first stage that has not run
    transform = load_transform(paths)
    rules = rules_of(params, transform_fields(transform, raw_example(paths, transform)))
    selected = select(settings, paths, schema, progress)
    return record(params, paths, schema, transform, selected, progress, promote, rules)


def _flat_params(params: Params, model: ModelSpec) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "model": model.name,
        "imbalance.resample": model.imbalance.resample,
        "selection.folds": params.selection.folds,
        "selection.budget": params.selection.budget,
        "seed": params.base.seed,
        "data_source": params.data.source,
        "split_method": params.split.method,
        "split_gap": params.split.gap,
    }
    flat.update({f"model.{k}": v for k, v in model.hyperparameters().items()})
    flat.update({f"threshold.{k}": v for k, v in params.threshold.model_dump().items()})
    return flat


def log_budget(selection: dict[str, Any], measured: dict[str, float], refit: float) -> None:
    """What selection.budget tried: each model's out-of-fold PR-AUC as a metric, the planned
    seconds beside the clock's (every model's folds and the ``refit``), and the whole table
    with both as ``budget_search.json``. Here only: the tracked report holds no measured time,
    so it is the same on every machine."""
    import re
    import tempfile

    budget = selection["budget"]
    spent = sum(measured.values()) + refit
    metrics = {
        "budget_planned_seconds": budget["planned_seconds"] or 0.0,
        "budget_measured_seconds": spent,
    }
    for entry in budget["tried"]:
        key = re.sub(r"[^\w./ -]", "_", entry["name"])
        metrics[f"oof_pr_auc.{key}"] = entry["oof_pr_auc"]
        if entry["name"] in measured:
            metrics[f"cv_seconds.{key}"] = measured[entry["name"]]
    tracking.log_metrics(metrics)
    tracking.set_tags({"selection.chosen": selection["chosen"]})
    table = {
        **budget,
        "measured_cv_seconds": measured,
        "measured_refit_seconds": refit,
        "measured_seconds": spent,
    }
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "budget_search.json"
        path.write_text(json_text(table), encoding="utf-8")
        tracking.log_artifact(path)


def record(
    params: Params,
    paths: ProjectPaths,
    schema: Schema,
    transform: FeatureTransform,
    selected: Selected,
    progress: Progress = quiet,
    promote: bool = True,
    rules: RuleSet | None = None,
) -> TrainResult:
    """Log, save and register the selected model (the model and report renamed together)
    with its ``rules`` (checked by the caller against the transform's fields)."""
    estimator, fit_seconds, choice = selected.estimator, selected.fit_seconds, selected.threshold
    val_metrics, selection = selected.validation, selected.selection
    data_fingerprint = selected.fingerprint
    model = selected.model

    progress("logging to MLflow")
    with tracking.run(
        params.tracking, params.tracking.experiment, run_name=f"train-{model.name}"
    ) as active:
        run_id = active.info.run_id
        tracking.log_params(_flat_params(params, model))
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
        if "budget" in selection:
            log_budget(selection, selected.timings, fit_seconds)
        tracking.set_tags({tracking.FINGERPRINT_TAG: data_fingerprint})
        metadata = {
            "kind": model.name,
            "threshold": choice.value,
            "threshold_strategy": choice.strategy,
            "features": list(schema.features),
            "amount_column": schema.amount,
            "registered_model": params.tracking.registered_model,
            "validation_metrics": {k: float(v) for k, v in val_metrics.items()},
            "validation_fingerprint": data_fingerprint,
        }
        report = {
            "model": model.name,
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
                    library_requirements(model),
                    trained_on=digest_features(
                        paths, TRAINED_SPLITS, [*transform.output_columns, schema.target]
                    ),
                    magnitudes=training_magnitudes(paths, transform),
                    rules=rules,
                )
                saved = read_contract(payload_dir(staging))
                tracking.set_tags(
                    {
                        tracking.SCORER_TAG: saved.scorer_sha256(),
                        tracking.RULES_TAG: saved.rules_sha256 or "",
                    }
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
        promotion = None
        if promote:
            promotion = promote_trained(
                params.tracking, version, val_metrics["pr_auc"], data_fingerprint, saved
            )
        else:
            tracking.set_alias(params.tracking, tracking.CHALLENGER, version)
        crash_point("train:after-promotion")
        promoted = bool(promotion and promotion.promoted)
        tracking.set_tags({"registered_version": version, "champion": str(promoted)})
    return TrainResult(
        model_name=model.name,
        threshold=choice,
        validation=val_metrics,
        fit_seconds=fit_seconds,
        run_id=run_id,
        version=version,
        promotion=promotion,
        train_rows=selected.train_rows,
    )


def release_rules(params: Params, source: Path, rules: RuleSet) -> str:
    """Register the model at ``source`` with ``rules`` instead of its own as a new version
    (the challenger), without refitting: every file but the rules is copied byte for byte,
    which is what `train` writes for a rule-only change (its estimator is deterministic).
    The training evidence is the source's, so :mod:`fraudctl.stages.promotion` sees a rule
    change; promoting it is the caller's decision."""
    import tempfile

    from fraudctl.model.bundle import load_model

    old = load_model(source, lazy=True)
    with tempfile.TemporaryDirectory(prefix="fraudctl-rules-") as scratch:
        staging = Path(scratch) / MODEL_ARTIFACT_PATH
        saving.resave_with_rules(source, staging, rules)
        saved = read_contract(payload_dir(staging))
        name = f"rules-{rules.digest()[:8] or 'none'}"
        with tracking.run(params.tracking, params.tracking.experiment, run_name=name) as active:
            tracking.log_params({"rules": ", ".join(rules.names) or "none", "model": old.kind})
            tracking.log_metrics(old.metadata.get("validation_metrics", {}), prefix="val_")
            tracking.set_tags(
                {
                    tracking.FINGERPRINT_TAG: str(old.metadata.get("validation_fingerprint", "")),
                    tracking.SCORER_TAG: saved.scorer_sha256(),
                    tracking.RULES_TAG: saved.rules_sha256 or "",
                }
            )
            tracking.log_artifacts(staging, MODEL_ARTIFACT_PATH)
            version = tracking.register(params.tracking, active.info.run_id, MODEL_ARTIFACT_PATH)
    tracking.set_alias(params.tracking, tracking.CHALLENGER, version)
    return version
