"""Model selection for ``train``: fit, compare families on prequential folds, choose the
threshold, and hand the chosen model to whoever records it (the ``train`` stage).

Both engines return the same :class:`Selected` (the Dask engine's is in
:mod:`fraudctl.distributed.train`), so saving and registering are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fraudctl.config import EvaluateParams, SelectionParams, ThresholdParams
from fraudctl.data.schema import Schema
from fraudctl.errors import ConfigError
from fraudctl.features.outputs import load_split
from fraudctl.features.transform import FeatureTransform
from fraudctl.io import release_arrow_memory
from fraudctl.model.families import ModelSpec
from fraudctl.model.fitting import (
    amounts,
    choose_on_validation,
    fingerprint,
    split_metrics,
    timed,
    timed_fit,
)
from fraudctl.model.leakage import check_for_leaks
from fraudctl.model.threshold import ThresholdChoice, choose_threshold
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

if TYPE_CHECKING:
    from fraudctl.model.selection import CrossValidation


@dataclass(frozen=True)
class TrainingSettings:
    """The sections of params.yaml that selection reads, and nothing else."""

    model: ModelSpec
    seed: int
    selection: SelectionParams
    threshold: ThresholdParams
    evaluate: EvaluateParams
    leak_guard_auc: float
    leak_guard_allow: tuple[str, ...] = ()

    def choosing(self, model: ModelSpec) -> TrainingSettings:
        return replace(self, model=model)


@dataclass
class Selected:
    """What model selection hands to recording: the same for both engines."""

    model: ModelSpec  # the family chosen (model.name, or a selection candidate)
    estimator: Any
    fit_seconds: float
    threshold: ThresholdChoice
    validation: dict[str, float]
    selection: dict[str, Any]
    fingerprint: str
    train_rows: int
    # measured seconds of each model's folds under selection.budget: MLflow only (the
    # tracked report holds predictions, so it is the same on every machine)
    timings: dict[str, float] = field(default_factory=dict)


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


def compare_families(
    settings: TrainingSettings, period: pd.DataFrame, schema: Schema, progress: Progress = quiet
) -> tuple[ModelSpec, CrossValidation, dict[str, float]]:
    """Prequential CV of model.name and each of selection.candidates on the same folds:
    (the winner, its CV, every family's mean out-of-fold PR-AUC). The test split plays no
    part; a tie keeps the earlier family."""
    from fraudctl.model.selection import cross_validate

    names = list(dict.fromkeys([settings.model.name, *settings.selection.candidates]))
    compared: dict[str, float] = {}
    best: tuple[ModelSpec, CrossValidation] | None = None
    for name in names:
        candidate = settings.model.named(name)
        if len(names) > 1:
            progress(f"comparing {', '.join(names)}: cross-validating {name}")
        try:
            cv = cross_validate(
                candidate, settings.seed, settings.selection, period, schema, progress
            )
        except ConfigError as exc:  # e.g. the network's PyTorch is not installed
            if name == settings.model.name:
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
        progress(f"out-of-fold PR-AUC: {scores}; training {best[0].name}")
    return best[0], best[1], compared


def check_fits_in_memory(paths: ProjectPaths, schema: Schema) -> None:
    """The train and validation splits and the library's own copy are in memory at once."""
    from fraudctl.capacity import TRAIN_COPIES, require_memory
    from fraudctl.io import read_json

    splits = read_json(paths.data_report)["splits"]
    rows = splits["train"]["rows"] + splits["validation"]["rows"]
    require_memory(rows * (len(schema.features) + 1), TRAIN_COPIES, "train")


def select(
    settings: TrainingSettings, paths: ProjectPaths, schema: Schema, progress: Progress = quiet
) -> Selected:
    """Fit and choose the threshold in this process: prequential folds, or the validation
    split."""
    check_fits_in_memory(paths, schema)
    progress("loading splits")
    train_frame = load_split(paths, "train")
    validation = load_split(paths, "validation")

    progress("checking single features for label leaks")
    check_for_leaks(
        train_frame,
        list(schema.features),
        schema.target,
        settings.leak_guard_auc,
        list(settings.leak_guard_allow),
        settings.seed,
    )

    review_cost = settings.threshold.review_cost
    timings: dict[str, float] = {}
    selection: dict[str, Any] = {"method": "holdout", "validated_rows": len(validation)}
    model = settings.model
    if settings.selection.folds:
        period = pd.concat([train_frame, validation], ignore_index=True)
        del train_frame, validation  # the period holds every row now
        release_arrow_memory()
        if settings.selection.budget is None:
            model, cv, compared = compare_families(settings, period, schema, progress)
            selection = cv.summary()
            if len(compared) > 1:
                selection |= {"chosen": model.name, "candidates": compared}
        else:
            from fraudctl.model import portfolio

            found = portfolio.search(
                settings.model, settings.seed, settings.selection, period, schema, progress
            )
            model, cv = found.chosen.model, found.cross_validation()
            selection = cv.summary() | found.report()
            timings = found.timings()
        validated = period.iloc[cv.positions]
        progress("choosing the decision threshold on the out-of-fold scores")
        choice = choose_threshold(
            validated[schema.target].to_numpy(),
            cv.scores,
            amounts(validated, schema),
            settings.threshold,
        )
        val_metrics = split_metrics(
            settings.evaluate, review_cost, validated, schema, cv.scores, choice.value
        )
        if settings.selection.budget is None:
            progress(f"refitting {model.name} on the training period ({len(period):,} rows)")
            estimator, fit_seconds = timed_fit(model, settings.seed, period, schema)
        else:
            progress(f"refitting {found.chosen.name} on the training period ({len(period):,} rows)")
            estimator, fit_seconds = timed(
                portfolio.fit_chosen, found.chosen, settings.seed, period, schema
            )
        fitted_rows = len(period)
    else:
        validated = validation
        progress(f"fitting {model.name} on {len(train_frame):,} rows")
        estimator, fit_seconds = timed_fit(model, settings.seed, train_frame, schema)
        fitted_rows = len(train_frame)
        progress("choosing the decision threshold on validation")
        choice, val_scores = choose_on_validation(settings.threshold, estimator, validation, schema)
        val_metrics = split_metrics(
            settings.evaluate, review_cost, validation, schema, val_scores, choice.value
        )
    return Selected(
        model=model,
        estimator=estimator,
        fit_seconds=fit_seconds,
        threshold=choice,
        validation=val_metrics,
        selection=selection,
        fingerprint=fingerprint(validated[[*schema.features, schema.target]]),
        train_rows=fitted_rows,
        timings=timings,
    )
