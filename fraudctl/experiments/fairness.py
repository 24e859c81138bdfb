"""Fairness across customer groups (fairlearn) and explanations of the model (SHAP).

The ULB table has no demographic columns. With ``data.schema.group`` set, that column is
the group; otherwise transactions are put in amount bands, cut at quantiles of the
*training* split's amounts: a reproducible proxy for customer segments (small-ticket vs
big-ticket spending), not a protected attribute. The question it answers is still the
one an auditor asks: does the model catch fraud and bother legitimate customers at the
same rates in every segment?
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import FairnessParams
from fraudctl.data.schema import Schema
from fraudctl.experiments.common import load_workspace
from fraudctl.experiments.explain import explain_model
from fraudctl.experiments.fairness_report import write_outputs
from fraudctl.experiments.results import FairnessOutcome
from fraudctl.io import relocated, staged_copy
from fraudctl.model.bundle import FraudModel, load_model
from fraudctl.model.fitting import amounts
from fraudctl.model.metrics import pr_auc
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet


def amount_bands(train_amounts: pd.Series, amounts: pd.Series, quantiles: list[float]) -> pd.Series:
    """Label each amount with its band, cut at quantiles of the training amounts."""
    cuts = np.unique(np.quantile(train_amounts.to_numpy(), sorted(quantiles)))
    edges = [f"{c:,.2f}" for c in cuts]
    labels = [f"< {edges[0]}", *(f"{a} to {b}" for a, b in pairwise(edges)), f">= {edges[-1]}"]
    index = np.searchsorted(cuts, amounts.to_numpy(), side="right")
    return pd.Series(
        np.asarray(labels, dtype=object)[index], index=amounts.index, name="amount_band"
    ).astype(pd.CategoricalDtype(labels, ordered=True))  # reports list bands low to high


def in_group_order(by_group: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Rows in the groups' own order (amount bands low to high), not sorted as text."""
    if isinstance(groups.dtype, pd.CategoricalDtype):
        order = [c for c in groups.cat.categories if c in by_group.index]
        return by_group.reindex(order + [g for g in by_group.index if g not in order])
    return by_group


def group_labels(
    schema: Schema, train: pd.DataFrame, frame: pd.DataFrame, params: FairnessParams
) -> tuple[pd.Series, str]:
    if schema.group:
        return frame[schema.group].astype(str), schema.group
    if schema.amount is None:
        from fraudctl.errors import ConfigError

        raise ConfigError(
            "experiment fairness needs groups: set data.schema.group, or data.schema.amount "
            "for amount bands"
        )
    return amount_bands(
        train[schema.amount], frame[schema.amount], params.amount_band_quantiles
    ), "amount_band (derived)"


def _rate_metrics(threshold: float) -> dict[str, Any]:
    """Metrics of (labels, scores) at a threshold, in the shape MetricFrame expects."""

    def flagged(scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) >= threshold

    def recall(y: np.ndarray, s: np.ndarray) -> float:
        y = np.asarray(y)
        return float(flagged(s)[y == 1].mean()) if (y == 1).any() else float("nan")

    def false_positive_rate(y: np.ndarray, s: np.ndarray) -> float:
        y = np.asarray(y)
        return float(flagged(s)[y == 0].mean()) if (y == 0).any() else float("nan")

    def precision(y: np.ndarray, s: np.ndarray) -> float:
        f = flagged(s)
        return float(np.asarray(y)[f].mean()) if f.any() else float("nan")

    def group_pr_auc(y: np.ndarray, s: np.ndarray) -> float:
        y = np.asarray(y)
        return pr_auc(y, np.asarray(s)) if 0 < y.sum() < len(y) else float("nan")

    return {
        "count": lambda y, s: float(len(y)),
        "frauds": lambda y, s: float(np.sum(y)),
        "selection_rate": lambda y, s: float(flagged(s).mean()),
        "recall": recall,
        "false_positive_rate": false_positive_rate,
        "precision": precision,
        "pr_auc": group_pr_auc,
    }


def _decision_metrics() -> dict[str, Any]:
    """The same rates from hard decisions (after mitigation there are no scores)."""
    return {name: fn for name, fn in _rate_metrics(0.5).items() if name != "pr_auc"}


def _disparities(y: np.ndarray, decisions: np.ndarray, groups: pd.Series) -> dict[str, float]:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    args = {"y_true": y, "y_pred": decisions, "sensitive_features": groups}
    return {
        "demographic_parity_difference": float(demographic_parity_difference(**args)),
        "demographic_parity_ratio": float(demographic_parity_ratio(**args)),
        "equalized_odds_difference": float(equalized_odds_difference(**args)),
        "equalized_odds_ratio": float(equalized_odds_ratio(**args)),
    }


def _overall(y: np.ndarray, decisions: np.ndarray, amounts: np.ndarray | None) -> dict[str, float]:
    """Overall rates; the money caught only where the data has amounts."""
    flagged = decisions.astype(bool)
    fraud = y == 1
    overall = {
        "recall": float(flagged[fraud].mean()) if fraud.any() else float("nan"),
        "precision": float(fraud[flagged].mean()) if flagged.any() else float("nan"),
        "alerts": int(flagged.sum()),
    }
    if amounts is not None:
        overall["fraud_amount_caught"] = round(float(amounts[flagged & fraud].sum()), 2)
    return overall


@dataclass
class FairnessResult:
    outcome: FairnessOutcome
    outputs: list[Path]

    @property
    def headline(self) -> str:
        return self.outcome.headline


def run_fairness(
    settings: FairnessParams,
    seed: int,
    paths: ProjectPaths,
    progress: Progress = quiet,
    on_written: Callable[[Path, dict[str, Any]], None] | None = None,
) -> FairnessResult:
    """Group metrics, a mitigation and SHAP on the test split; ``on_written`` sees the
    output folder before it replaces the previous one (the stage logs it)."""
    from fairlearn.metrics import MetricFrame

    workspace = load_workspace(paths)
    schema = workspace.schema
    model = load_model(paths.model_dir)
    model.require_trained_on(paths, paths.model_dir)
    estimator, metadata = model.estimator, model.metadata
    threshold = float(metadata["threshold"])
    test = workspace.test
    y = test[schema.target].to_numpy()

    progress("scoring the test split")
    scores = model.score_features(test)
    groups, group_name = group_labels(schema, workspace.train, test, settings)

    progress("fairlearn MetricFrame by group")
    frame = MetricFrame(
        metrics=_rate_metrics(threshold), y_true=y, y_pred=scores, sensitive_features=groups
    )
    by_group = in_group_order(frame.by_group, groups)
    decisions = (scores >= threshold).astype(int)
    before = {
        **_disparities(y, decisions, groups),
        **_overall(y, decisions, amounts(test, schema) if schema.amount else None),
    }
    checks = {
        "equalized_odds_difference": before["equalized_odds_difference"]
        <= settings.max_equalized_odds_difference,
        "demographic_parity_difference": before["demographic_parity_difference"]
        <= settings.max_demographic_parity_difference,
    }

    mitigation = None
    if settings.mitigation != "none":
        progress(f"mitigation: {settings.mitigation}")
        mitigation = _mitigate(seed, model, workspace, schema, groups, settings, threshold)

    target = paths.experiment_dir("fairness")
    with staged_copy(target) as directory:
        shutil.rmtree(directory / "local", ignore_errors=True)  # this run's alerts only
        progress("SHAP explanations")
        explanation = explain_model(
            estimator,
            model.kind,
            test,
            schema,
            scores,
            settings,
            seed,
            directory,
        )

        largest = by_group[["recall", "false_positive_rate"]].agg(lambda c: c.max() - c.min())
        worst_metric = str(largest.idxmax())
        failed = [name for name, ok in checks.items() if not ok]
        headline = (
            f"groups by {group_name}: largest gap is {worst_metric} "
            f"({largest[worst_metric]:.3f}); equalized-odds difference "
            f"{before['equalized_odds_difference']:.3f}; "
            + (f"FAILED: {', '.join(failed)}" if failed else "all fairness checks passed")
        )
        if mitigation:
            after = mitigation["after"]
            gap_before = before["equalized_odds_difference"]
            gap_after = after["equalized_odds_difference"]
            change = (
                "narrows"
                if gap_after < gap_before - 5e-4
                else "widens"
                if gap_after > gap_before + 5e-4
                else "leaves"
            )
            headline += (
                f"; mitigation {change} it"
                + ("" if change == "leaves" else f" to {gap_after:.3f}")
                + (" (worse)" if change == "widens" else "")
                + f", recall {before['recall']:.3f} → {after['recall']:.3f}, "
                f"alerts {int(before['alerts']):,} → {int(after['alerts']):,}"
            )
        metrics = {
            "group_column": group_name,
            "threshold": threshold,
            "by_group": _records(by_group),
            "disparity": {k: before[k] for k in _disparities_keys()},
            "overall": {
                k: before[k]
                for k in ("recall", "precision", "alerts", "fraud_amount_caught")
                if k in before
            },
            "checks": {**checks, "passed": all(checks.values())},
            "limits": {
                "max_equalized_odds_difference": settings.max_equalized_odds_difference,
                "max_demographic_parity_difference": settings.max_demographic_parity_difference,
            },
            "mitigation": mitigation,
            "shap": explanation.summary,
            "headline": headline,
        }
        outputs = write_outputs(directory, metrics, by_group, explanation.outputs)
        if on_written is not None:
            on_written(directory, metrics)
    outputs = relocated(outputs, directory, target)
    return FairnessResult(FairnessOutcome.from_results(metrics), outputs=outputs)


def _disparities_keys() -> tuple[str, ...]:
    return (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    )


def _records(frame: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    return {
        str(group): {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
        for group, row in frame.iterrows()
    }


def equal_recall_thresholds(
    scores: np.ndarray,
    labels: np.ndarray,
    groups: pd.Series,
    target_recall: float,
    fallback: float,
) -> dict[str, float]:
    """Per-group thresholds that each catch ``target_recall`` of the group's frauds.

    Equal opportunity at the model's own operating point: every group gets the recall the
    global threshold achieves overall, and the alert volume stays near the original.
    """
    thresholds = {}
    for group in pd.unique(groups):
        member = (groups == group).to_numpy()
        fraud_scores = np.sort(scores[member & (labels == 1)])[::-1]
        if fraud_scores.size == 0:
            thresholds[str(group)] = fallback
            continue
        needed = max(1, int(np.ceil(target_recall * fraud_scores.size - 1e-9)))
        thresholds[str(group)] = float(fraud_scores[needed - 1])
    return thresholds


def _mitigate(
    seed: int,
    model: FraudModel,
    workspace: Any,
    schema: Schema,
    test_groups: pd.Series,
    settings: FairnessParams,
    threshold: float,
) -> dict[str, Any]:
    """Group-specific decisions fitted on validation, applied to test; before vs after.

    ``group_thresholds`` (default) equalises recall at the model's operating point.
    fairlearn's ``ThresholdOptimizer`` is available too, but its objectives suit balanced
    problems: at a 0.17 % base rate accuracy favours flagging nothing and balanced accuracy
    flags thousands, which the before/after table then shows.
    """
    from fairlearn.metrics import MetricFrame

    features = list(schema.features)
    validation = workspace.validation
    val_groups, _ = group_labels(schema, workspace.train, validation, settings)
    val_labels = validation[schema.target].to_numpy()
    test = workspace.test
    if settings.mitigation == "group_thresholds":
        val_scores = model.score_features(validation)
        target = float((val_scores[val_labels == 1] >= threshold).mean())
        cuts = equal_recall_thresholds(val_scores, val_labels, val_groups, target, threshold)
        test_scores = model.score_features(test)
        per_row = test_groups.astype(str).map(cuts).fillna(threshold).to_numpy()
        decisions = (test_scores >= per_row).astype(int)
        method = (
            f"per-group thresholds with equal validation recall ({target:.3f}), "
            "fitted on validation"
        )
        extra: dict[str, Any] = {"thresholds": cuts}
    else:
        from fairlearn.postprocessing import ThresholdOptimizer

        constraint = settings.mitigation.removeprefix("threshold_optimizer_")
        optimizer = ThresholdOptimizer(
            estimator=model.estimator,
            constraints=constraint,
            objective="balanced_accuracy_score",
            prefit=True,
            predict_method="predict_proba",
        )
        optimizer.fit(validation[features], val_labels, sensitive_features=val_groups)
        decisions = np.asarray(
            optimizer.predict(test[features], sensitive_features=test_groups, random_state=seed)
        ).astype(int)
        method = f"fairlearn ThresholdOptimizer({constraint}, balanced accuracy), on validation"
        extra = {}
    y = test[schema.target].to_numpy()
    after = {
        **_disparities(y, decisions, test_groups),
        **_overall(y, decisions, amounts(test, schema) if schema.amount else None),
    }
    by_group = in_group_order(
        MetricFrame(
            metrics=_decision_metrics(), y_true=y, y_pred=decisions, sensitive_features=test_groups
        ).by_group,
        test_groups,
    )
    return {"method": method, "after": after, "by_group_after": _records(by_group), **extra}
