"""Data-poisoning robustness: how much can label tampering hurt the model, and what stops it.

Attacks touch an in-memory copy of the training split only; every model is scored on the
clean test split with a threshold chosen on the clean validation split, using the same
fit / score / metric code as the training pipeline.

- ``random``: flip a share of all training labels (the common benchmark).
- ``targeted``: relabel a share of the training frauds as legitimate (an attacker hiding
  their own frauds, e.g. through a compromised chargeback feed).
- ``injection``: add fraud-like rows labelled legitimate (jittered copies of real frauds),
  so the model learns that this pattern is safe.

The defence is out-of-fold label screening in the spirit of confident learning: a quick
detector scores each training row from folds that did not see it; a row whose label the
detector contradicts as confidently as it typically backs the other class gets the other
label (``relabel``, the default: hidden frauds come back as training signal) or is
dropped (``prune``) before the refit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import EvaluateParams, PoisonParams, ThresholdParams
from fraudctl.data.schema import Schema
from fraudctl.experiments.common import load_workspace, sample_training_rows
from fraudctl.experiments.poison_outputs import write_outputs
from fraudctl.experiments.results import PoisonOutcome
from fraudctl.io import relocated, staged_copy
from fraudctl.model.families import SCREENING_FAMILY, ModelSpec
from fraudctl.model.fitting import choose_on_validation, fit, score, split_metrics
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

REPORTED = ("pr_auc", "roc_auc", "recall", "precision")


@dataclass(frozen=True)
class PoisonSettings:
    """What the grid reads: its own section, its own model (experiments.poison.model: it
    fits about 110 times, so not the production model), the seed, and how the pipeline
    picks thresholds and measures a split."""

    poison: PoisonParams
    model: ModelSpec
    seed: int
    threshold: ThresholdParams
    evaluate: EvaluateParams


@dataclass(frozen=True)
class Cell:
    """One fit of the grid, for whoever records it (the stage logs it to MLflow)."""

    attack: str
    level: float
    seed: int
    labels_changed: int
    rows_screened: int
    undefended: dict[str, float]
    defended: dict[str, float]


@dataclass(frozen=True)
class Attacked:
    frame: pd.DataFrame
    changed: int


def random_flip(
    frame: pd.DataFrame, target: str, level: float, rng: np.random.Generator
) -> Attacked:
    """Flip exactly round(level * rows) labels, chosen uniformly."""
    count = round(level * len(frame))
    rows = rng.choice(len(frame), size=count, replace=False)
    attacked = frame.copy()
    labels = attacked[target].to_numpy().copy()
    labels[rows] = 1 - labels[rows]
    attacked[target] = labels
    return Attacked(attacked, count)


def targeted_flip(
    frame: pd.DataFrame, target: str, level: float, rng: np.random.Generator
) -> Attacked:
    """Relabel exactly round(level * frauds) training frauds as legitimate."""
    frauds = np.flatnonzero(frame[target].to_numpy() == 1)
    count = round(level * frauds.size)
    rows = rng.choice(frauds, size=count, replace=False)
    attacked = frame.copy()
    labels = attacked[target].to_numpy().copy()
    labels[rows] = 0
    attacked[target] = labels
    return Attacked(attacked, count)


def inject(frame: pd.DataFrame, schema: Schema, level: float, rng: np.random.Generator) -> Attacked:
    """Append round(level * frauds) jittered copies of frauds, labelled legitimate."""
    frauds = frame[frame[schema.target] == 1]
    count = round(level * len(frauds))
    if count == 0:
        return Attacked(frame.copy(), 0)
    copies = frauds.iloc[rng.integers(0, len(frauds), size=count)].copy()
    # Category codes are copied as they are: a jittered code is no category at all.
    features = [c for c in schema.features if c not in {schema.amount, *schema.categorical}]
    spread = frauds[features].std(ddof=0).fillna(0.0).to_numpy()
    copies[features] = copies[features].to_numpy() + rng.normal(size=(count, len(features))) * (
        0.1 * spread
    )
    copies[schema.target] = np.zeros(count, dtype=frame[schema.target].dtype)
    return Attacked(pd.concat([frame, copies], ignore_index=True), count)


def apply_attack(
    name: str, frame: pd.DataFrame, schema: Schema, level: float, seed: int
) -> Attacked:
    rng = np.random.default_rng(seed)
    if name == "random":
        return random_flip(frame, schema.target, level, rng)
    if name == "targeted":
        return targeted_flip(frame, schema.target, level, rng)
    if name == "injection":
        return inject(frame, schema, level, rng)
    raise ValueError(f"unknown attack {name!r}")


def _detector(model: ModelSpec, trees: int) -> ModelSpec:
    """A quick LightGBM for screening, whatever the production model is."""
    return model.with_section(
        SCREENING_FAMILY,
        {"n_estimators": trees, "learning_rate": 0.1},
        "experiments.poison.defence",
    )


def screen_labels(
    model: ModelSpec,
    frame: pd.DataFrame,
    schema: Schema,
    seed: int,
    folds: int,
    trees: int,
    action: str = "relabel",
) -> tuple[pd.DataFrame, int]:
    """Correct (or drop) rows whose label an out-of-fold detector confidently contradicts;
    returns the screened frame and how many rows were touched."""
    labels = frame[schema.target].to_numpy()
    out_of_fold = np.empty(len(frame))
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(frame), dtype=int)
    for value in (0, 1):  # stratified folds keep frauds in every fold
        members = np.flatnonzero(labels == value)
        fold_of[members] = rng.permutation(np.arange(members.size) % folds)
    detector = _detector(model, trees)
    for k in range(folds):
        held_out = fold_of == k
        fitted = fit(detector, seed + k, frame[~held_out], schema)
        out_of_fold[held_out] = score(fitted, frame[held_out], schema)
    # Per-class confidence thresholds: how sure the detector typically is about each class.
    fraud_threshold = out_of_fold[labels == 1].mean() if (labels == 1).any() else 1.0
    legit_threshold = (1 - out_of_fold[labels == 0]).mean()
    suspicious = ((labels == 0) & (out_of_fold >= fraud_threshold)) | (
        (labels == 1) & (1 - out_of_fold >= legit_threshold)
    )
    if action == "relabel":
        screened = frame.copy()
        screened[schema.target] = np.where(suspicious, 1 - labels, labels).astype(labels.dtype)
    else:
        screened = frame[~suspicious].reset_index(drop=True)
    if screened[schema.target].nunique() < 2:  # never screen away a whole class
        return frame, 0
    return screened, int(suspicious.sum())


def _evaluate(
    settings: PoisonSettings,
    model: Any,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    schema: Schema,
) -> dict[str, float]:
    choice, _ = choose_on_validation(settings.threshold, model, validation, schema)
    metrics = split_metrics(
        settings.evaluate,
        settings.threshold.review_cost,
        test,
        schema,
        score(model, test, schema),
        choice.value,
    )
    return {key: metrics[key] for key in REPORTED}


def levels(poison: PoisonParams, attack: str) -> list[float]:
    return sorted(
        set(
            {
                "random": poison.random_levels,
                "targeted": poison.targeted_levels,
                "injection": poison.injection_levels,
            }[attack]
        )
    )


@dataclass
class PoisonResult:
    outcome: PoisonOutcome
    fits: int
    outputs: list[Any] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return self.outcome.headline


def _aggregate(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        key: {
            "mean": float(np.mean([r[key] for r in runs])),
            "std": float(np.std([r[key] for r in runs])),
        }
        for key in REPORTED
    }


def run_poisoning(
    settings: PoisonSettings,
    paths: ProjectPaths,
    progress: Progress = quiet,
    on_cell: Callable[[Cell], None] | None = None,
    on_written: Callable[[list[Path], dict[str, Any]], None] | None = None,
) -> PoisonResult:
    """The grid: every attack level and the clean baseline, per seed, with and without the
    defence. ``on_cell`` sees each fit's numbers; ``on_written`` sees the output files in
    their staging folder before they replace the previous ones (the stage logs both)."""
    poison, model = settings.poison, settings.model
    workspace = load_workspace(paths)
    schema = workspace.schema
    seeds = [settings.seed + i for i in range(poison.seeds)]
    cells = [
        (attack, level)
        for attack in poison.attacks
        for level in levels(poison, attack)
        if level > 0
    ]
    total = (len(cells) + 1) * len(seeds)
    results: dict[tuple[str, float, str], list[dict[str, float]]] = {}
    changed: dict[tuple[str, float], int] = {}
    screened: dict[tuple[str, float], list[int]] = {}
    fits = done = 0

    for seed in seeds:
        train = sample_training_rows(workspace.train, schema.target, poison.max_train_rows, seed)
        for attack, level in [("clean", 0.0), *cells]:
            done += 1
            progress(f"{attack} {level:g} seed {seed} ({done}/{total})")
            attacked = (
                Attacked(train, 0)
                if attack == "clean"
                else apply_attack(attack, train, schema, level, seed)
            )
            changed[(attack, level)] = attacked.changed
            fitted = fit(model, seed, attacked.frame, schema)
            plain = _evaluate(settings, fitted, workspace.validation, workspace.test, schema)
            kept, removed = screen_labels(
                model,
                attacked.frame,
                schema,
                seed,
                poison.defence.folds,
                poison.defence.detector_trees,
                poison.defence.action,
            )
            defended_model = fit(model, seed, kept, schema)
            defended = _evaluate(
                settings, defended_model, workspace.validation, workspace.test, schema
            )
            fits += 2 + poison.defence.folds
            results.setdefault((attack, level, "undefended"), []).append(plain)
            results.setdefault((attack, level, "defended"), []).append(defended)
            screened.setdefault((attack, level), []).append(removed)
            if on_cell is not None:
                on_cell(Cell(attack, level, seed, attacked.changed, removed, plain, defended))

    summary = _summarise(results, changed, screened, poison, len(train), len(workspace.train))
    summary["sampled"]["model"] = ", ".join(
        [model.name] + [f"{k}={v}" for k, v in model.hyperparameters().items() if k != "n_jobs"]
    )
    target = paths.experiment_dir("poison")
    with staged_copy(target) as directory:
        outputs = write_outputs(directory, summary)
        if on_written is not None:
            on_written(outputs, summary)
    outputs = relocated(outputs, directory, target)
    return PoisonResult(PoisonOutcome.from_results(summary), fits=fits, outputs=outputs)


def _summarise(
    results, changed, screened, poison: PoisonParams, sampled_rows: int, train_rows: int
) -> dict[str, Any]:
    baseline = _aggregate(results[("clean", 0.0, "undefended")])
    baseline_defended = _aggregate(results[("clean", 0.0, "defended")])
    attacks: dict[str, Any] = {}
    worst = {"attack": None, "level": 0.0, "pr_auc_drop": 0.0, "recovered": 0.0}
    for attack in poison.attacks:
        table = {}
        for level in levels(poison, attack):
            key = ("clean", 0.0) if level == 0 else (attack, level)
            plain = _aggregate(results[(*key, "undefended")])
            defended = _aggregate(results[(*key, "defended")])
            table[f"{level:g}"] = {
                "labels_changed": changed[key],
                "rows_screened": float(np.mean(screened[key])),
                "undefended": plain,
                "defended": defended,
            }
            drop = baseline["pr_auc"]["mean"] - plain["pr_auc"]["mean"]
            if drop > worst["pr_auc_drop"]:
                worst = {
                    "attack": attack,
                    "level": level,
                    "pr_auc_drop": drop,
                    "recovered": defended["pr_auc"]["mean"] - plain["pr_auc"]["mean"],
                }
        attacks[attack] = table
    strongest = []
    for attack, table in attacks.items():
        cell = table[max(table, key=float)]
        gain = cell["defended"]["pr_auc"]["mean"] - cell["undefended"]["pr_auc"]["mean"]
        strongest.append(f"{attack} {gain:+.3f}")
    if worst["attack"] is None:
        headline = "no attack lowered test PR-AUC"
    else:
        headline = (
            f"worst: {worst['attack']} at {worst['level']:g} drops PR-AUC by "
            f"{worst['pr_auc_drop']:.3f} (from {baseline['pr_auc']['mean']:.3f}); "
            f"defence at each attack's strongest level: {', '.join(strongest)}"
        )
    return {
        "baseline": baseline,
        "baseline_defended": baseline_defended,
        "attacks": attacks,
        "worst": worst,
        "headline": headline,
        "sampled": {
            "train_rows_used": sampled_rows,
            "train_rows_available": train_rows,
            "seeds": poison.seeds,
        },
    }
