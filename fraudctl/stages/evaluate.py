"""Stage ``evaluate``: score the untouched test split at the model's own threshold.

Metrics go to reports/metrics.json, curve data to reports/plots/ (declared as DVC plots)
with PNG copies, and everything is logged to the training run that produced the model.
A model with rules adds a ``rules`` block to the metrics (:mod:`fraudctl.rules.metrics`):
each rule's hits, precision, recall and overlap with the model's alerts, and the combined
decision's metrics, from the test split's raw rows (data/prepared) and the model's own
rules; a model without rules writes exactly what it wrote before rules existed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudctl import tracking
from fraudctl.config import Params
from fraudctl.features.outputs import load_schema, load_split
from fraudctl.io import atomic_path, relocated, staged_copy, write_with
from fraudctl.model import bundle, registry_record
from fraudctl.model import metrics as m
from fraudctl.model.fitting import split_metrics
from fraudctl.model.plots import save_confusion_plot, save_line_plot
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet
from fraudctl.rules.metrics import flat_numbers
from fraudctl.stages.project import require_model_rules


@dataclass
class EvaluateResult:
    metrics: dict[str, float]
    run_id: str | None
    outputs: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


DISAGREEMENT_SAMPLES = 200


def disagreement(
    params: Params, paths: ProjectPaths, model: bundle.FraudModel, test: Any, scores: Any
) -> str | None:
    """A warning when the out-of-fold PR-AUC (what train saw) lies outside the test PR-AUC's
    bootstrap interval: the training period predicted itself better (or worse) than it
    predicts the future. Id-like and clock-like inputs are the usual cause, so they are
    named."""
    import numpy as np

    from fraudctl.data.idlike import describe, order_like_columns
    from fraudctl.io import read_json
    from fraudctl.model.bootstrap import bootstrap_intervals

    if not paths.train_report.exists():
        return None
    validated = read_json(paths.train_report).get("validation", {}).get("pr_auc")
    labels = test[model.transform.target].to_numpy()
    if validated is None or labels.min() == labels.max():
        return None
    low, high = bootstrap_intervals(
        labels,
        np.asarray(scores),
        model.threshold,
        params.evaluate.max_false_positive_rate,
        DISAGREEMENT_SAMPLES,
        0.95,
        params.base.seed,
    )["pr_auc"]
    if low <= validated <= high:
        return None
    raw_inputs = [c for c in (*model.transform.numeric, *model.transform.categorical) if c in test]
    time = model.transform.time if model.transform.time in test else None
    suspects = order_like_columns(test, raw_inputs, time, params.base.seed)
    hint = (
        f"inputs that look like ids or clocks: {describe(suspects)}"
        if suspects
        else "look for inputs that encode a row's time or position, or for drift"
    )
    return (
        f"test PR-AUC's 95% bootstrap interval [{low:.3f}, {high:.3f}] does not hold the "
        f"out-of-fold PR-AUC {validated:.3f} that selected this model; {hint}"
    )


def rules_block(
    paths: ProjectPaths, model: bundle.FraudModel, test: Any, scores: Any, schema: Any
) -> dict[str, Any]:
    """The model's rules on the test split: its raw rows (row for row with the features)
    and its model inputs, decided by the one function every door calls."""
    from fraudctl.features.outputs import raw_rows_of
    from fraudctl.model.fitting import amounts
    from fraudctl.rules.metrics import rule_metrics

    raw = raw_rows_of(paths, "test", test, schema.time)
    raw = raw.drop(columns=[schema.target], errors="ignore")  # never a rule's field
    decisions = model.decide_inputs(raw, model.inputs_from_features(test), scores)
    return rule_metrics(
        model.rules,
        decisions,
        test[schema.target].to_numpy(),
        model.threshold,
        amounts(test, schema) if schema.amount else None,
    )


def run(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> EvaluateResult:
    schema = load_schema(paths)
    progress("loading the model and the test split")
    model = bundle.load_model(paths.model_dir)
    model.require_trained_on(paths, paths.model_dir)  # before anything is measured or logged
    require_model_rules(params, model, paths.model_dir)
    test = load_split(paths, "test")
    threshold = model.threshold

    progress(f"scoring {len(test):,} test rows")
    scores = model.score_features(test)
    y = test[schema.target].to_numpy()
    results = split_metrics(
        params.evaluate, params.threshold.review_cost, test, schema, scores, threshold
    )

    if model.rules:
        progress(f"deciding with the model's {len(model.rules)} rule(s)")
        results["rules"] = rules_block(paths, model, test, scores, schema)

    warning = disagreement(params, paths, model, test, scores)
    progress("writing metrics and plots")
    # Plots and metrics describe one model at one threshold: the metrics file is written
    # (under a temporary name) before the plots folder is built, and the two are renamed into
    # place one after the other, so a failure at any point leaves both as they were.
    with atomic_path(paths.metrics_file) as metrics_tmp:
        metrics_tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        with staged_copy(paths.plots_dir) as plots:
            curves = {
                "pr_curve": (
                    m.pr_curve(y, scores),
                    "recall",
                    "precision",
                    "Precision-recall (test)",
                    False,
                ),
                "roc_curve": (m.roc_curve_frame(y, scores), "fpr", "tpr", "ROC (test)", True),
                "calibration": (
                    m.calibration_frame(y, scores, params.evaluate.calibration_bins),
                    "predicted",
                    "observed",
                    "Calibration (test, bins of equal expected frauds)",
                    True,
                ),
            }
            outputs: list[Path] = []
            for name, (frame, x, y_col, title, diagonal) in curves.items():
                csv_path = plots / f"{name}.csv"
                # ten significant digits: the last ones of a float differ between machines
                write_with(
                    csv_path,
                    lambda tmp, f=frame: f.to_csv(tmp, index=False, float_format="%.10g"),
                )
                save_line_plot(
                    plots / f"{name}.png",
                    frame,
                    x,
                    y_col,
                    title,
                    diagonal,
                    log=name == "calibration",
                )
                outputs += [csv_path, plots / f"{name}.png"]
            confusion_path = plots / "confusion.csv"
            confusion = m.confusion_frame(y, scores, threshold)
            write_with(confusion_path, lambda tmp: confusion.to_csv(tmp, index=False))
            save_confusion_plot(
                plots / "confusion.png",
                int(results["true_positives"]),
                int(results["false_positives"]),
                int(results["false_negatives"]),
                int(results["rows"] - results["alerts"] - results["false_negatives"]),
                f"Confusion at threshold {threshold:.3f}",
            )
            outputs += [confusion_path, plots / "confusion.png"]
    outputs = relocated(outputs, plots, paths.plots_dir)
    outputs.append(paths.metrics_file)

    progress("logging to MLflow")
    # Test metrics join the training run that made the model (its name stays train-...).
    training_run = registry_record.read_registry_record(paths.model_dir).get("run_id")
    with tracking.run(
        params.tracking,
        params.tracking.experiment,
        run_name=None if training_run else "evaluate",
        run_id=training_run,
    ) as active:
        tracking.log_metrics(
            {k: v for k, v in results.items() if k != "rules"}
            | flat_numbers(results.get("rules", {})),
            prefix="test_",
        )
        for path in outputs:
            if path.suffix == ".png":
                tracking.log_artifact(path, "evaluation")
        tracking.log_artifact(paths.metrics_file, "evaluation")
        run_id = active.info.run_id
    return EvaluateResult(
        metrics=results, run_id=run_id, outputs=outputs, warnings=[warning] if warning else []
    )
