"""Every model family through every door, on a raw transaction log with a categorical
column and history features: train, evaluate, the experiments that fit or explain the model
(poisoning, fairness), and the API's /predict and /explain. A family added to the registry
is picked up here automatically. The drift stage reads a model only to score it, as
evaluate does, so it runs on a few models rather than on each: tests/experiments/test_drift.py,
and `dvc repro` of the default blend and of the transactions example (tests/pipeline)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudctl.model.families import FAMILIES
from tests.conftest import invoke, write_example_params

# Small settings per family, so each runs in seconds; a family not listed uses its defaults.
TINY: dict[str, dict] = {
    "lightgbm": {"n_estimators": 30, "min_child_samples": 5},
    "xgboost": {"n_estimators": 30},
    "catboost": {"iterations": 60},
    "hist_gradient_boosting": {"max_iter": 30},
    "random_forest": {"n_estimators": 20, "n_jobs": 1},
    "mlp": {"max_iter": 30, "hidden_layers": [16]},
}
EXPERIMENTS = {
    "poison": {
        "attacks": ["random"],
        "random_levels": [0.0, 0.1],
        "seeds": 1,
        "max_train_rows": 3000,
        "defence": {"detector_trees": 20},
    },
    # the fewest rows allowed: a model without an exact explainer (the blend, the network, a
    # booster with categorical splits) is explained by permutation, ~2 x features x
    # background rows scored per row (SHAP adding up: tests/experiments/test_fairness.py)
    "fairness": {"shap_rows": 10, "local_explanations": 1},
}


def family_params(name: str, registry: str, extra: dict | None = None) -> dict:
    model = {"name": name, **{k: v for k, v in TINY.items()}}
    return {
        "model": model,
        "selection": {"folds": 2},
        "tracking": {"registered_model": registry},
        "experiments": {**EXPERIMENTS, "poison": {**EXPERIMENTS["poison"], "model": model}},
        **(extra or {}),
    }


@pytest.fixture
def log_project(transactions_project: Path, tmp_path: Path, monkeypatch, mlflow_store: str):
    """The session's prepared log and features, in this test's own directory."""
    for name in ("data", "reports"):
        shutil.copytree(transactions_project / name, tmp_path / name)
    shutil.rmtree(tmp_path / "data" / "online", ignore_errors=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_through_every_door(log_project, runner, name):
    write_example_params(log_project, family_params(name, f"family-{name}"))
    for command in (["train"], ["evaluate"]):
        result = invoke(runner, *command)
        assert result.exit_code == 0, result.output
    report = json.loads(Path("reports/train.json").read_text())
    assert report["model"] == name and report["selection"]["folds"] == 2
    metrics = json.loads(Path("reports/metrics.json").read_text())
    assert 0.0 < metrics["pr_auc"] <= 1.0

    for experiment in ("poison", "fairness"):
        result = invoke(runner, "experiment", experiment)
        assert result.exit_code == 0, (experiment, result.output)
        assert "Traceback" not in result.output
    shap_top = json.loads(Path("reports/fairness/shap_top_features.json").read_text())
    assert shap_top and np.isfinite(shap_top[0]["mean_abs_shap"])

    _serve_predict_and_explain(log_project, name)


def _serve_predict_and_explain(project: Path, name: str) -> None:
    from fastapi.testclient import TestClient

    from fraudctl.model.bundle import load_model
    from fraudctl.model.explainers import explainer_kind
    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.features.test_transactions import invoke_materialize
    from tests.serve.conftest import wait_ready

    store = f"sqlite:///{project / 'online.db'}"
    assert invoke_materialize(store).exit_code == 0
    model = load_model(Path("models/model"))
    test = pd.read_parquet("data/prepared/test.parquet")
    row = test.iloc[-1]
    body = {
        "timestamp": (row["timestamp"] + pd.Timedelta(hours=1)).isoformat(),
        "customer_id": int(row["customer_id"]),
        "terminal_id": int(row["terminal_id"]),
        "amount": float(row["amount"]),
        "merchant_category": "a category never seen in training",
    }
    with TestClient(create_app(ServeSettings(model="models/model", online_store=store))) as client:
        wait_ready(client)
        assert client.get("/model").json()["kind"] == name
        scored = client.post("/predict?record=false", json=body)
        assert scored.status_code == 200, scored.text
        assert 0.0 <= scored.json()["probability"] <= 1.0
        explained = client.post("/explain", json=body)
        kind = explainer_kind(model.estimator, name)
        if kind == "agnostic" or (kind == "tree" and explained.status_code == 501):
            assert explained.status_code == 501
            assert "no exact explainer" in explained.text
        else:
            assert explained.status_code == 200, explained.text
            answer = explained.json()
            total = answer["base_value"] + sum(answer["contributions"].values())
            probability = 1.0 / (1.0 + np.exp(-total))
            assert probability == pytest.approx(answer["probability"], abs=1e-5)


def test_a_refitted_scikit_learn_model_is_saved_byte_for_byte_the_same(tmp_path):
    """skops names objects by memory address; the saved file must not, or every
    `dvc repro` of the default blend would record a new model for unchanged data."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from fraudctl.model.payloads import SKOPS

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 4)), rng.integers(0, 2, 300)
    saved = []
    for attempt in range(2):
        model = make_pipeline(SimpleImputer(strategy="median"), LogisticRegression()).fit(x, y)
        path = tmp_path / f"{attempt}.skops"
        SKOPS.save(model, path)
        saved.append(path.read_bytes())
    assert saved[0] == saved[1]
    loaded = SKOPS.load(tmp_path / "0.skops")
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
