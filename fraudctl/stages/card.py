"""Stage ``card``: reports/model_card.md, what a reviewer needs on one page, and
reports/headline.json, the numbers DVC shows (``fraudctl.stages.headline``).

It is written from what the other stages wrote (metrics.json, train.json, data.json, the
experiments' headline files, the emissions files), so every number in it is the number
those files hold; only the confidence intervals are new. They come from a bootstrap of the
test split: the model scores the test rows once, then each resample re-weights rows (the
count of times each was drawn) and the metrics are recomputed from cumulative sums over
the sorted scores, which makes a few hundred resamples take about a second.

The card is attached to the registered model version (its description) and logged to the
training run, so the registry shows it next to the model it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudctl import emissions
from fraudctl.config import Params
from fraudctl.experiments.results import (
    DriftHeadline,
    FairnessHeadline,
    PoisonHeadline,
    read_headline,
)
from fraudctl.io import read_json, write_text
from fraudctl.model.bootstrap import bootstrap_intervals, weighted_metrics
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet
from fraudctl.rules.ruleset import RuleSet
from fraudctl.rules.summary import card_lines
from fraudctl.stages.headline import write_headline
from fraudctl.stages.project import require_model_rules

CARD_FILE = "model_card.md"


@dataclass
class CardResult:
    path: Path
    intervals: dict[str, tuple[float, float]]
    attached_to: str | None


def _check_current(
    paths: ProjectPaths,
    metrics: dict[str, Any],
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    params: Params,
) -> None:
    """The card describes one model: metrics.json must be this model's (same numbers)."""
    from fraudctl.errors import ArtifactError

    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    point = weighted_metrics(
        labels[order].astype(np.float64),
        np.r_[np.nonzero(np.diff(sorted_scores))[0], len(scores) - 1],
        int(np.sum(sorted_scores >= threshold)),
        np.ones(len(scores)),
        params.evaluate.max_false_positive_rate,
    )
    stale = [k for k in ("pr_auc", "roc_auc") if abs(point[k] - metrics[k]) > 1e-6]
    if stale:
        raise ArtifactError(
            f"{paths.metrics_file}: its {', '.join(stale)} are not those of {paths.model_dir} "
            "(it was evaluated before the model was retrained); run `fraudctl evaluate` first"
        )


def _optional(path: Path) -> Any:
    return read_json(path) if path.exists() else None


def run(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> CardResult:
    from fraudctl.features.outputs import load_schema, load_split
    from fraudctl.model import bundle, registry_record

    metrics = read_json(paths.metrics_file)
    trained = read_json(paths.train_report)
    data = read_json(paths.data_report)
    schema = load_schema(paths)
    progress("scoring the test split")
    model = bundle.load_model(paths.model_dir)
    model.require_trained_on(paths, paths.model_dir)
    test = load_split(paths, "test")
    scores = model.score_features(test)
    labels = test[schema.target].to_numpy()
    _check_current(paths, metrics, labels, scores, model.threshold, params)
    require_model_rules(params, model, paths.model_dir)
    if (metrics.get("rules") or {}).get("sha256", "") != model.rules.digest():
        from fraudctl.errors import ArtifactError

        raise ArtifactError(
            f"{paths.metrics_file}: its rules are not those {paths.model_dir} decides with; "
            "run `fraudctl evaluate` first"
        )
    progress(f"bootstrap: {params.card.bootstrap_samples} resamples of {len(test):,} rows")
    intervals = bootstrap_intervals(
        labels,
        scores,
        model.threshold,
        params.evaluate.max_false_positive_rate,
        params.card.bootstrap_samples,
        params.card.confidence,
        params.base.seed,
    )
    record = registry_record.read_registry_record(paths.model_dir)
    text = render(
        params, paths, model.metadata, metrics, trained, data, intervals, record, model.rules
    )
    card_path = paths.reports_dir / CARD_FILE
    write_text(card_path, text)
    write_headline(paths, metrics)
    progress("attaching the card to the registered version")
    attached = _attach(params, paths, record, card_path)
    return CardResult(card_path, intervals, attached)


def _attach(params: Params, paths: ProjectPaths, record: dict[str, Any], card: Path) -> str | None:
    """The card becomes the registered version's description and a run artifact."""
    if not record.get("version") or not record.get("run_id"):
        return None
    from fraudctl import tracking

    name, version = record["registered_model"], str(record["version"])
    if not tracking.describe_version(
        params.tracking, name, version, card.read_text(encoding="utf-8")
    ):
        return None
    with tracking.run(params.tracking, params.tracking.experiment, run_id=record["run_id"]):
        tracking.log_artifact(card, "model_card")
    return f"{name} v{version}"


def _ci(intervals: dict[str, tuple[float, float]], name: str) -> str:
    low, high = intervals[name]
    return f"{low:.3f} – {high:.3f}"


def _money(value: float | None) -> str:
    """Money, or n/a where the data has no amount column (the metric is not computed)."""
    return "n/a (no amount column)" if value is None else f"{value:,.2f}"


def render(
    params: Params,
    paths: ProjectPaths,
    metadata: dict[str, Any],
    metrics: dict[str, Any],
    trained: dict[str, Any],
    data: dict[str, Any],
    intervals: dict[str, tuple[float, float]],
    record: dict[str, Any],
    rules: RuleSet | None = None,
) -> str:
    confidence = f"{params.card.confidence:.0%}"
    source = data["source"]
    fpr = params.evaluate.max_false_positive_rate
    selection = trained.get("selection", {})
    lines = [
        # No registry version here: versions are facts of the local MLflow store, and the
        # card is a tracked file that a fresh clone's `dvc repro` must write byte for byte.
        # The card is attached to its version in the registry, which names it there.
        f"# Model card: {params.tracking.registered_model} ({metadata['kind']})",
        "",
        "## Intended use",
        "",
        "Scores card transactions for fraud review. A score at or above the threshold "
        "raises an alert for a human analyst; it is not meant to block payments on its own. "
        "Out of scope: other payment types, other regions or periods than the training data "
        "without re-validation, and decisions about people (it scores transactions).",
        "",
        "## Data and split",
        "",
        f"- Source: `{source['source']}`: {source['rows_kept']:,} rows kept of "
        f"{source['rows_read']:,}, {source['frauds']:,} frauds "
        f"({source['fraud_rate']:.3%}).",
        f"- Split: {params.split.method}, train {params.split.train:.0%} / validation "
        f"{params.split.validation:.0%} / test {params.split.test:.0%}"
        + (f", gap {params.split.gap}" if params.split.gap else "")
        + ".",
        f"- Inputs: {len(metadata['features'])} features"
        + (
            f" (history features over {', '.join(params.features.entities)})"
            if params.features.entities
            else ""
        )
        + ".",
    ]
    if selection.get("method") == "prequential":
        folds = ", ".join(f"{v:.3f}" for v in selection["fold_pr_auc"])
        lines.append(
            f"- Selection: {selection['folds']} prequential folds on the training period "
            f"(PR-AUC per fold {folds}); the threshold was chosen on their pooled "
            "out-of-fold scores and the model refitted on the whole period."
        )
    lines += _budget(selection)
    lines += [
        "",
        f"## Test metrics ({metrics['rows']:,} rows, {metrics['frauds']:,} frauds)",
        "",
        f"| metric | value | {confidence} interval (bootstrap) |",
        "| --- | --- | --- |",
        f"| PR-AUC | {metrics['pr_auc']:.4f} | {_ci(intervals, 'pr_auc')} |",
        f"| ROC-AUC | {metrics['roc_auc']:.4f} | {_ci(intervals, 'roc_auc')} |",
        f"| recall at {fpr:.0%} FPR | {metrics['recall_at_fpr']:.4f} | "
        f"{_ci(intervals, 'recall_at_fpr')} |",
        f"| precision at the threshold | {metrics['precision']:.4f} | "
        f"{_ci(intervals, 'precision')} |",
        f"| recall at the threshold | {metrics['recall']:.4f} | {_ci(intervals, 'recall')} |",
        "",
        f"Intervals from {params.card.bootstrap_samples} resamples of the test split "
        "(percentile method).",
        "",
        "## Threshold and its cost",
        "",
        f"- Threshold {metrics['threshold']:.4f} (`{trained['threshold_strategy']}`): "
        f"{metrics['alerts']:,} alerts, {metrics['true_positives']:,} frauds caught, "
        f"{metrics['false_negatives']:,} missed, {metrics['false_positives']:,} false alarms.",
        f"- Fraud amount caught {_money(metrics.get('fraud_amount_caught'))}, missed "
        f"{_money(metrics.get('fraud_amount_missed'))}; expected cost "
        f"{_money(metrics.get('expected_cost'))} at {params.threshold.review_cost:g} per review.",
        "",
    ]
    lines += card_lines(metrics.get("rules"), metrics, rules)
    lines += _experiments(paths)
    lines += _emissions(paths)
    lines += [
        "## Limitations",
        "",
        f"- The test split holds {metrics['frauds']:,} frauds: one fraud more or less "
        f"caught moves recall by {1 / max(metrics['frauds'], 1):.3f}; read the intervals, "
        "not the third decimal.",
        "- Labels arrive late in practice; metrics assume they are complete.",
        "- Scores are ranked, not calibrated probabilities; the threshold was chosen on "
        "past data and drifts with the fraud mix (see the drift stage).",
        "",
    ]
    return "\n".join(lines)


def _budget(selection: dict[str, Any]) -> list[str]:
    """What selection.budget tried, from train.json: predicted seconds only, so the card
    is the same on every machine."""
    budget = selection.get("budget")
    if not budget:
        return []
    lines = [
        "",
        f"## Model selection (budget {budget['seconds']:g} s)",
        "",
        f"Chosen: `{selection['chosen']}`, the best mean out-of-fold PR-AUC of the models "
        f"below, none chosen below the first (`model.name`). Planned: "
        f"{_predicted(budget['planned_seconds'])} of predicted fitting on the 2-core reference "
        "(each family's cost model, never the clock).",
        "",
        "| model | role | out-of-fold PR-AUC | predicted seconds (folds / refit) |",
        "| --- | --- | --- | --- |",
    ]
    for entry in budget["tried"]:
        folds = _predicted(entry.get("predicted_cv_seconds", 0.0))
        lines.append(
            f"| `{entry['name']}` | {entry['role']} | {entry['oof_pr_auc']:.3f} | "
            f"{folds} / {_predicted(entry['predicted_refit_seconds'])} |"
        )
    for skipped in budget["skipped"]:
        lines.append(f"| `{skipped['name']}` | not tried | – | {skipped['reason']} |")
    return lines


def _predicted(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds:.1f} s"


def _experiments(paths: ProjectPaths) -> list[str]:
    lines = ["## Fairness, robustness and drift", ""]
    fairness: FairnessHeadline | None = read_headline(paths, "fairness")
    if fairness:
        verdict = "pass" if fairness.checks_passed else "FAIL"
        lines.append(
            f"- Fairness ({verdict}): equalized-odds difference "
            f"{fairness.equalized_odds_difference:.3f}, demographic-parity difference "
            f"{fairness.demographic_parity_difference:.3f}."
        )
    else:
        lines.append("- Fairness: not run yet (`fraudctl experiment fairness`).")
    poison: PoisonHeadline | None = read_headline(paths, "poison")
    if poison:
        lines.append(
            f"- Poisoning: the worst attack ({poison.worst_attack} at "
            f"{poison.worst_level:g}) drops test PR-AUC by {poison.worst_pr_auc_drop:.3f} "
            f"from {poison.baseline_pr_auc:.3f}; {poison.defence_phrase()}."
        )
    else:
        lines.append("- Poisoning: not run yet (`fraudctl experiment poison`).")
    drift: DriftHeadline | None = read_headline(paths, "drift")
    if drift:
        verdict = "passes" if drift.gate_passed else "FAILS"
        lines.append(
            f"- Drift gate {verdict}: {drift.drifted_share:.0%} of features drifted, "
            f"prediction PSI {drift.prediction_psi:.3f}."
        )
    else:
        lines.append("- Drift: not run yet (`fraudctl experiment drift`).")
    top = _optional(paths.experiment_dir("fairness") / "shap_top_features.json")
    if top:
        names = ", ".join(f"{t['feature']} ({t['mean_abs_shap']:.3f})" for t in top[:5])
        lines.append(f"- Top SHAP features (mean |SHAP|, log-odds): {names}.")
    return [*lines, ""]


def _emissions(paths: ProjectPaths) -> list[str]:
    """Where the energy figures are: they measure the machine that ran the stages, so they
    stay out of this tracked card (a fresh clone's run would rewrite it)."""
    if not emissions.recorded(paths):
        return []
    return [
        "## Energy and emissions",
        "",
        "Measured by CodeCarbon in offline mode for train and each experiment, on the machine "
        "that ran them: `reports/emissions/*.json` (not tracked) and "
        "each stage's MLflow run; `fraudctl report` compares them with the base commit.",
        "",
    ]
