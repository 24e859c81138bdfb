"""`fraudctl train`, `evaluate` and `promote` on small generated data, with a real MLflow store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CLI_MODEL, invoke, write_params

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


def test_saved_model_loads_with_mlflow_pyfunc(cli_trained):
    import mlflow.pyfunc

    from fraudctl.model.bundle import load_model
    from fraudctl.model.registry_record import read_registry_record

    project, registry_name = cli_trained, CLI_MODEL
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


def test_aliases_follow_validation_pr_auc_and_manual_promotion(cli_trained, runner):
    project, registry_name = cli_trained, CLI_MODEL
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


def test_evaluate_refuses_a_model_trained_on_other_data(cli_trained, runner):
    """After a train that did not run (or failed), models/ holds the model of an earlier
    dataset: evaluate must not measure it on the new test split, nor log to its run."""
    import mlflow

    project, registry_name = cli_trained, CLI_MODEL
    assert invoke(runner, "evaluate").exit_code == 0
    run_id = json.loads((project / "models/registry.json").read_text())["run_id"]
    logged = mlflow.get_run(run_id).data.metrics
    metrics_before = (project / "reports/metrics.json").read_bytes()

    write_params(
        project,
        {"tracking": {"registered_model": registry_name}, "data": {"synthetic": {"n_rows": 5000}}},
    )
    for command in (["data"], ["features", "build"]):
        assert invoke(runner, *command).exit_code == 0
    for command in (["evaluate"], ["card"], ["experiment", "drift"]):
        result = invoke(runner, *command)
        assert result.exit_code == 2, (command, result.output)
        assert "trained on other data" in result.output and "fraudctl train" in result.output
        assert "Traceback" not in result.output
    assert (project / "reports/metrics.json").read_bytes() == metrics_before
    assert mlflow.get_run(run_id).data.metrics == logged


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("extra-input", "changed after training"),
        ("threshold", "not a probability"),
        ("data-path", "points out of the model directory"),
        ("cut-trees", "changed after training"),
        ("extra-file", "not part of the model"),
    ],
)
def test_a_damaged_model_directory_is_refused_with_one_line(
    trained_project, runner, damage, message
):
    from fraudctl.model.contract import digest_folder, read_contract, write_contract

    project = trained_project  # the session's model, copied: this test damages its copy
    payload = project / "models/model/data/fraudctl"
    if damage == "extra-input":
        transform = json.loads((payload / "transform.json").read_text())
        transform["numeric"].append("V99")
        (payload / "transform.json").write_text(json.dumps(transform))
    elif damage == "threshold":  # with the digests rewritten: the value itself is checked
        from dataclasses import replace

        model = json.loads((payload / "model.json").read_text())
        (payload / "model.json").write_text(json.dumps({**model, "threshold": 5.0}))
        write_contract(payload, replace(read_contract(payload), files=digest_folder(payload)))
    elif damage == "data-path":
        mlmodel = project / "models/model/MLmodel"
        mlmodel.write_text(mlmodel.read_text().replace("data: data/fraudctl", "data: ../elsewhere"))
    elif damage == "cut-trees":
        trees = payload / "estimator.lgb.txt"
        text = trees.read_text()
        trees.write_text(text[: text.index("Tree=3")])
    else:
        (payload / "notes.txt").write_text("hello")
    (project / "in.parquet").write_bytes((project / "data/prepared/test.parquet").read_bytes())
    for command in (["evaluate"], ["score", "in.parquet", "-o", "out.parquet"]):
        result = invoke(runner, *command)
        assert result.exit_code == 2, (command, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert not (project / "out.parquet").exists()


def _claims_table(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A claims-like table: text columns out of alphabetical order, the target in the middle,
    a year as its time, no amount, and a sequential policy number."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Zone": rng.choice(["north", "south", "east"], rows),
            "Year": np.sort(rng.integers(1994, 1997, rows)),
            "Make": rng.choice(["honda", "toyota", "bmw", "audi"], rows),
            "Fraud": 0,
            "Premium": rng.gamma(2, 50, rows).round(2),
            "Agent": rng.choice(["x", "y"], rows),
            "PolicyNumber": np.arange(rows) + 10_000,
        }
    )
    logit = -3 + 2.5 * (frame.Make == "bmw") + 1.5 * (frame.Zone == "east") - (frame.Agent == "y")
    frame["Fraud"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def _claims_params(project, registry_name, sections=None, **schema):
    write_params(
        project,
        {
            **(sections or {}),
            "tracking": {"registered_model": registry_name},
            "data": {
                "source": "claims.csv",
                "schema": {
                    "time": "Year",
                    "amount": None,
                    "target": "Fraud",
                    "features": "all",
                    "categorical": ["Zone", "Make", "Agent"],
                    **schema,
                },
            },
            "threshold": {"strategy": "max_f1"},
        },
    )


def test_features_all_refuses_an_id_column_until_it_is_declared(project, runner, registry_name):
    _claims_table().to_csv(project / "claims.csv", index=False)
    _claims_params(project, registry_name)
    result = invoke(runner, "data")
    assert result.exit_code == 2, result.output
    assert "'PolicyNumber'" in result.output and "data.schema.exclude" in result.output
    assert not (project / "data/prepared").exists()
    _claims_params(project, registry_name, exclude=["PolicyNumber"])
    result = invoke(runner, "data")
    assert result.exit_code == 0, result.output
    assert "1994" in result.output and "1,994" not in result.output
    assert "cut falls inside time value 199" in result.output  # three years, cut by rows


def test_a_table_without_amounts_reports_no_money(project, runner, registry_name):
    _claims_table().to_csv(project / "claims.csv", index=False)
    _claims_params(project, registry_name, exclude=["PolicyNumber"])
    for command in (["data"], ["features", "build"], ["train"], ["evaluate"], ["card"]):
        result = invoke(runner, *command)
        assert result.exit_code == 0, (command, result.output)
        if command in (["train"], ["evaluate"]):
            assert "n/a (no amount column)" in result.output
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert not {"fraud_amount_caught", "fraud_amount_missed", "expected_cost"} & set(metrics)
    assert "n/a (no amount column)" in (project / "reports/model_card.md").read_text()


def test_evaluate_warns_when_test_and_out_of_fold_scores_disagree(project, runner, registry_name):
    frame = _claims_table()
    frame["Seconds"] = np.arange(len(frame)) * 60.0  # a clock the guard was told to allow
    frame.to_csv(project / "claims.csv", index=False)
    _claims_params(
        project,
        registry_name,
        {"features": {"leak_guard_allow": ["Seconds"]}},
        exclude=["PolicyNumber"],
    )
    for command in (["data"], ["features", "build"], ["train"]):
        assert invoke(runner, *command).exit_code == 0
    report = json.loads((project / "reports/train.json").read_text())
    report["validation"]["pr_auc"] = 0.999  # as a leaking clock would make it
    (project / "reports/train.json").write_text(json.dumps(report))
    result = invoke(runner, "evaluate")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps the warning at the terminal's width
    assert "out-of-fold PR-AUC 0.999" in said and "'Seconds'" in said


def test_score_refuses_a_number_far_beyond_the_training_range(trained_project, runner):
    project = trained_project
    rows = pd.read_parquet(project / "data/prepared/test.parquet").head(50)
    rows.loc[7, "V1"] = 1e308
    rows.to_csv(project / "in.csv", index=False)
    result = invoke(runner, "score", "in.csv", "-o", "out.csv")
    assert result.exit_code == 2, result.output
    assert "column 'V1'" in result.output and "line 9" in result.output
    assert not (project / "out.csv").exists()
