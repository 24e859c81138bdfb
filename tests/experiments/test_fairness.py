"""Fairness metrics by group, the mitigation, and SHAP explanations."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fraudctl.experiments.fairness import _rate_metrics, amount_bands
from tests.conftest import invoke


def test_metric_frame_matches_a_hand_computation():
    from fairlearn.metrics import MetricFrame

    y = np.array([1, 0, 0, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.6, 0.1, 0.2, 0.7, 0.8, 0.3, 0.05])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    frame = MetricFrame(
        metrics=_rate_metrics(0.5), y_true=y, y_pred=scores, sensitive_features=groups
    ).by_group
    # group a: flagged rows 0 and 1 -> 1 of 2 frauds caught, 1 of 2 legit flagged.
    assert frame.loc["a", "selection_rate"] == 0.5
    assert frame.loc["a", "recall"] == 0.5
    assert frame.loc["a", "false_positive_rate"] == 0.5
    assert frame.loc["a", "precision"] == 0.5
    # group b: flagged rows 4 and 5 -> the one fraud caught, 1 of 3 legit flagged.
    assert frame.loc["b", "recall"] == 1.0
    assert frame.loc["b", "false_positive_rate"] == pytest.approx(1 / 3)
    assert frame.loc["b", "precision"] == 0.5
    assert frame.loc["b", "pr_auc"] == pytest.approx(1.0)
    # average precision for group a: frauds ranked 1st and 3rd of 4 -> (1 + 2/3) / 2.
    assert frame.loc["a", "pr_auc"] == pytest.approx((1 + 2 / 3) / 2)


def test_amount_bands_cut_at_training_quantiles():
    train = pd.Series(np.arange(1, 101, dtype=float))
    bands = amount_bands(train, pd.Series([1.0, 30.0, 80.0, 500.0]), [0.25, 0.75])
    assert list(bands) == ["< 25.75", "25.75 to 75.25", ">= 75.25", ">= 75.25"]


def test_shap_values_add_up_to_the_model_output(trained):
    from fraudctl.experiments.explain import shap_values
    from fraudctl.model.bundle import load_model

    model = load_model(trained.model_dir)
    estimator, metadata = model.estimator, model.metadata
    rows = pd.read_parquet(trained.features_file("test"))[metadata["features"]].head(300)
    values, base = shap_values(estimator, rows, model.kind)
    raw = estimator.booster_.predict(rows, raw_score=True)
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, atol=1e-6)


def test_fairness_command_end_to_end(trained_project, runner):
    result = invoke(runner, "experiment", "fairness")
    assert result.exit_code == 0, result.output
    directory = trained_project / "reports" / "fairness"
    metrics = json.loads((directory / "results.json").read_text())
    assert metrics["group_column"] == "amount_band (derived)"
    assert len(metrics["by_group"]) == 3
    test = pd.read_parquet(trained_project / "data/prepared/test.parquet")
    assert sum(g["count"] for g in metrics["by_group"].values()) == len(test)
    assert sum(g["frauds"] for g in metrics["by_group"].values()) == test["Class"].sum()
    assert {"equalized_odds_difference", "demographic_parity_difference"} <= set(
        metrics["disparity"]
    )
    assert isinstance(metrics["checks"]["passed"], bool)
    after = metrics["mitigation"]["after"]
    assert after["alerts"] >= 0 and not math.isnan(after["equalized_odds_difference"])
    assert len(metrics["shap"]["top_features"]) == 10
    local = json.loads((directory / "local_explanations.json").read_text())
    assert len(local) == 2 and local[0]["probability"] >= local[1]["probability"]
    for name in ("shap_bar.png", "shap_beeswarm.png", "report.md", "by_group.csv"):
        assert (directory / name).stat().st_size > 0
    assert len(list((directory / "local").glob("*.png"))) == 2
    assert "Mitigation" in (directory / "report.md").read_text()


def test_configured_group_column_is_used(trained_project, runner):
    from fraudctl.io import read_json, write_json

    for split in ("train", "validation", "test"):
        path = trained_project / "data" / "features" / f"{split}.parquet"
        frame = pd.read_parquet(path)
        frame["region"] = np.where(frame.index % 3 == 0, "north", "south")
        frame.to_parquet(path)
    report = read_json(trained_project / "reports" / "data.json")
    report["schema"]["group"] = "region"
    write_json(trained_project / "reports" / "data.json", report)
    result = invoke(runner, "experiment", "fairness")
    assert result.exit_code == 0, result.output
    metrics = json.loads((trained_project / "reports/fairness/results.json").read_text())
    assert metrics["group_column"] == "region"
    assert set(metrics["by_group"]) == {"north", "south"}


def test_bad_fairness_params_exit_2(trained_project, runner):
    from tests.conftest import write_params
    from tests.experiments.conftest import SMALL_EXPERIMENTS

    params = json.loads(json.dumps(SMALL_EXPERIMENTS))
    params["experiments"]["fairness"]["mitigation"] = "magic"
    write_params(trained_project, params)
    result = invoke(runner, "experiment", "fairness")
    assert result.exit_code == 2 and "experiments.fairness.mitigation" in result.output


def test_equal_recall_thresholds_catch_the_same_share_per_group():
    from fraudctl.experiments.fairness import equal_recall_thresholds

    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.95, 0.4, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 1, 1, 0, 1, 1, 0, 1, 0])
    groups = pd.Series(["a"] * 5 + ["b"] * 5)
    cuts = equal_recall_thresholds(scores, labels, groups, target_recall=0.5, fallback=0.5)
    # a: frauds 0.9, 0.8, 0.7, 0.6 -> two needed -> 0.8; b: 0.95, 0.4, 0.2 -> two -> 0.4.
    assert cuts == {"a": 0.8, "b": 0.4}


def test_fairlearn_threshold_optimizer_is_available(trained_project, runner):
    from tests.conftest import write_params
    from tests.experiments.conftest import SMALL_EXPERIMENTS

    params = json.loads(json.dumps(SMALL_EXPERIMENTS))
    params["experiments"]["fairness"]["mitigation"] = "threshold_optimizer_equalized_odds"
    write_params(trained_project, params)
    result = invoke(runner, "experiment", "fairness")
    assert result.exit_code == 0, result.output
    metrics = json.loads((trained_project / "reports/fairness/results.json").read_text())
    assert metrics["mitigation"]["method"].startswith("fairlearn ThresholdOptimizer(equalized_odds")
