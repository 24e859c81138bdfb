"""The model card (its numbers are metrics.json's) and CodeCarbon's measurements."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from fraudctl.model.bootstrap import bootstrap_intervals, weighted_metrics
from fraudctl.model.metrics import pr_auc, recall_at_fpr, roc_auc
from tests.conftest import invoke, write_params
from tests.experiments.conftest import SMALL_EXPERIMENTS


@pytest.mark.parametrize("seed", range(4))
def test_weighted_metrics_with_unit_weights_are_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(3000) < 0.05).astype(float)
    scores = np.round(rng.random(3000) * 0.5 + labels * rng.random(3000) * 0.6, 2)  # ties
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    boundaries = np.r_[np.nonzero(np.diff(ordered))[0], len(scores) - 1]
    flagged = int(np.sum(ordered >= 0.5))
    ours = weighted_metrics(labels[order], boundaries, flagged, np.ones(3000), 0.01)
    assert ours["pr_auc"] == pytest.approx(pr_auc(labels, scores), abs=1e-12)
    assert ours["roc_auc"] == pytest.approx(roc_auc(labels, scores), abs=1e-12)
    assert ours["recall_at_fpr"] == pytest.approx(recall_at_fpr(labels, scores, 0.01), abs=1e-12)
    flagged_mask = scores >= 0.5
    assert ours["precision"] == pytest.approx(labels[flagged_mask].mean())
    intervals = bootstrap_intervals(labels, scores, 0.5, 0.01, 200, 0.9, seed)
    low, high = intervals["pr_auc"]
    assert low < pr_auc(labels, scores) < high and high - low < 0.3


def test_card_numbers_are_the_metrics_files(trained_project, runner):
    write_params(trained_project, SMALL_EXPERIMENTS)
    assert invoke(runner, "evaluate").exit_code == 0
    empty = invoke(runner, "card")
    assert empty.exit_code == 0, empty.output
    text = Path("reports/model_card.md").read_text()
    assert "Fairness: not run yet" in text and "Drift: not run yet" in text
    # an experiment that has not run leaves its headline name out, never a stale number
    assert set(json.loads(Path("reports/headline.json").read_text())) == {
        "pr_auc",
        "recall_at_fpr",
        "amount_caught",
    }

    for experiment in ("fairness", "drift"):
        assert invoke(runner, "experiment", experiment).exit_code == 0
    result = invoke(runner, "card")
    assert result.exit_code == 0, result.output
    text = Path("reports/model_card.md").read_text()
    metrics = json.loads(Path("reports/metrics.json").read_text())
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([0-9.]+) \| [0-9.]+ – [0-9.]+ \|$", text, re.M))
    assert float(rows["PR-AUC"]) == pytest.approx(metrics["pr_auc"], abs=5e-5)
    assert float(rows["ROC-AUC"]) == pytest.approx(metrics["roc_auc"], abs=5e-5)
    assert float(rows["recall at 1% FPR"]) == pytest.approx(metrics["recall_at_fpr"], abs=5e-5)
    assert float(rows["precision at the threshold"]) == pytest.approx(metrics["precision"], 5e-5)
    assert f"{metrics['alerts']:,} alerts" in text
    fairness = json.loads(Path("reports/fairness/metrics.json").read_text())
    assert f"{fairness['equalized_odds_difference']:.3f}" in text
    assert "Poisoning: not run yet" in text
    headline = json.loads(Path("reports/headline.json").read_text())
    assert headline["pr_auc"] == round(metrics["pr_auc"], 4)
    assert headline["eo_difference"] == round(fairness["equalized_odds_difference"], 4)
    assert "poison_drop" not in headline and "drifted_share" in headline

    import mlflow

    record = json.loads(Path("models/registry.json").read_text())
    version = mlflow.MlflowClient().get_model_version(record["registered_model"], record["version"])
    assert version.description.startswith("# Model card")


def test_a_card_for_a_retrained_model_needs_a_new_evaluate(trained_project, runner):
    assert invoke(runner, "evaluate").exit_code == 0
    metrics = json.loads(Path("reports/metrics.json").read_text())
    Path("reports/metrics.json").write_text(json.dumps({**metrics, "pr_auc": 0.5}))
    before = (
        Path("reports/model_card.md").read_text()
        if Path("reports/model_card.md").exists()
        else None
    )
    result = invoke(runner, "card")
    assert result.exit_code == 2
    assert "run `fraudctl evaluate` first" in result.output
    after = (
        Path("reports/model_card.md").read_text()
        if Path("reports/model_card.md").exists()
        else None
    )
    assert after == before


def test_train_and_experiments_measure_their_emissions(trained_project, runner):
    write_params(
        trained_project,
        {**SMALL_EXPERIMENTS, "emissions": {"enabled": True, "measure_seconds": 1.0}},
    )
    result = invoke(runner, "train")
    assert result.exit_code == 0, result.output
    assert "g CO₂e (CodeCarbon, offline)" in result.output
    measured = json.loads(Path("reports/emissions/train.json").read_text())
    assert measured["energy_kwh"] > 0 and measured["emissions_kg_co2eq"] > 0
    import mlflow

    run_id = json.loads(Path("models/registry.json").read_text())["run_id"]
    logged = mlflow.MlflowClient().get_run(run_id).data.metrics
    assert logged["train_energy_kwh"] == measured["energy_kwh"]

    assert invoke(runner, "experiment", "drift").exit_code == 0
    drift = json.loads(Path("reports/emissions/drift.json").read_text())
    assert drift["energy_kwh"] > 0
    logged = mlflow.MlflowClient().get_run(run_id).data.metrics
    assert logged["drift_energy_kwh"] == drift["energy_kwh"]
    assert invoke(runner, "evaluate").exit_code == 0
    assert invoke(runner, "card").exit_code == 0
    card = Path("reports/model_card.md").read_text()
    assert "## Energy and emissions" in card and "reports/emissions/" in card
    assert "| train |" not in card  # machine facts stay out of the tracked card

    write_params(trained_project, {**SMALL_EXPERIMENTS, "emissions": {"enabled": False}})
    assert invoke(runner, "experiment", "drift").exit_code == 0
    assert json.loads(Path("reports/emissions/drift.json").read_text()) == {"measured": False}
