"""`fraudctl train`, `evaluate` and `promote` on small generated data, with a real MLflow store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import invoke, write_params

PLOTS = ["pr_curve", "roc_curve", "calibration", "confusion"]


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def test_train_evaluate_end_to_end(project, runner, registry_name):
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    trained = invoke(runner, "train")
    assert trained.exit_code == 0, trained.output
    assert "champion" in trained.output and "no champion yet" in trained.output

    train_report = json.loads((project / "reports/train.json").read_text())
    assert 0 < train_report["threshold"] < 1
    assert 0.3 < train_report["validation"]["pr_auc"] <= 1.0

    evaluated = invoke(runner, "evaluate")
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((project / "reports/metrics.json").read_text())
    for key in [
        "pr_auc",
        "roc_auc",
        "precision",
        "recall",
        "f1",
        "recall_at_fpr",
        "precision_at_k",
        "alerts",
        "fraud_amount_caught",
        "fraud_amount_missed",
        "expected_cost",
    ]:
        assert key in metrics, key
    assert metrics["threshold"] == train_report["threshold"]
    assert metrics["rows"] == 1200
    assert metrics["true_positives"] + metrics["false_negatives"] == metrics["frauds"]
    for plot in PLOTS:
        assert (project / f"reports/plots/{plot}.png").stat().st_size > 1000
        assert (project / f"reports/plots/{plot}.csv").exists()
    # Four cells with their counts (not a row per transaction), agreeing with the metrics.
    cells = pd.read_csv(project / "reports/plots/confusion.csv").set_index(["actual", "predicted"])
    assert len(cells) == 4 and cells["count"].sum() == 1200
    assert cells.loc[(1, 1), "count"] == metrics["true_positives"]
    assert cells.loc[(0, 1), "count"] == metrics["false_positives"]

    client = _client()
    champion = client.get_model_version_by_alias(registry_name, "champion")
    run = client.get_run(champion.run_id)
    assert run.data.metrics["test_pr_auc"] == pytest.approx(metrics["pr_auc"])
    assert run.data.metrics["val_pr_auc"] == pytest.approx(train_report["validation"]["pr_auc"])
    assert run.data.params["model"] == "lightgbm"


def test_saved_model_loads_with_mlflow_pyfunc(project, runner, registry_name):
    import mlflow.pyfunc

    from fraudctl.model.bundle import load_model, read_registry_record

    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    assert invoke(runner, "train").exit_code == 0
    test = pd.read_parquet(project / "data/prepared/test.parquet")
    features = [f"V{i}" for i in range(1, 29)] + ["Amount"]
    pyfunc = mlflow.pyfunc.load_model(str(project / "models/model"))
    probabilities = np.asarray(pyfunc.predict(test[["Time", *features]]))
    model = load_model(project / "models/model")
    estimator, metadata = model.estimator, model.metadata
    np.testing.assert_allclose(probabilities, estimator.predict_proba(test[features])[:, 1])
    assert metadata["features"] == features
    assert read_registry_record(project / "models/model")["version"] == "1"
    assert pyfunc.metadata.signature.inputs.input_names() == ["Time", *features]

    registered = mlflow.pyfunc.load_model(f"models:/{registry_name}@champion")
    np.testing.assert_allclose(np.asarray(registered.predict(test)), probabilities)


def test_aliases_follow_validation_pr_auc_and_manual_promotion(project, runner, registry_name):
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    assert invoke(runner, "train").exit_code == 0
    # A crippled model cannot beat the champion: it stays challenger.
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"lightgbm": {"n_estimators": 1, "num_leaves": 2, "colsample_bytree": 0.05}},
        },
    )
    second = invoke(runner, "train")
    assert second.exit_code == 0, second.output
    assert "does not beat v1" in " ".join(second.output.split())
    client = _client()
    assert str(client.get_model_version_by_alias(registry_name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(registry_name, "challenger").version) == "2"

    promoted = invoke(runner, "promote", "2")
    assert promoted.exit_code == 0, promoted.output
    assert "(was v1)" in promoted.output
    assert str(client.get_model_version_by_alias(registry_name, "champion").version) == "2"

    unknown = invoke(runner, "promote", "99")
    assert unknown.exit_code == 2
    assert f"{registry_name} has no version '99'" in unknown.output


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "random_forest", "logistic_regression"])
def test_every_estimator_trains(project, runner, registry_name, name):
    small = {"random_forest": {"n_estimators": 20}, "hist_gradient_boosting": {"max_iter": 30}}
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"name": name, **({name: small[name]} if name in small else {})},
        },
    )
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    result = invoke(runner, "train")
    assert result.exit_code == 0, result.output
    assert json.loads((project / "reports/train.json").read_text())["model"] == name


@pytest.mark.parametrize("strategy", ["min_precision", "min_cost"])
def test_threshold_strategies_through_the_cli(project, runner, registry_name, strategy):
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "threshold": {"strategy": strategy, "min_precision": 0.5},
        },
    )
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    assert invoke(runner, "train").exit_code == 0
    report = json.loads((project / "reports/train.json").read_text())
    assert report["threshold_strategy"] == strategy
    if strategy == "min_precision" and report["threshold_satisfied"]:
        assert report["validation"]["precision"] >= 0.5


def test_train_without_data_says_what_to_run(project, runner):
    result = invoke(runner, "train")
    assert result.exit_code == 2
    assert "run `fraudctl data`" in result.output


def test_evaluate_without_model_says_what_to_run(project, runner):
    assert invoke(runner, "data").exit_code == 0
    assert invoke(runner, "features", "build").exit_code == 0
    result = invoke(runner, "evaluate")
    assert result.exit_code == 2
    assert "run `fraudctl train` first" in result.output
