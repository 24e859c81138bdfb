"""Poisoning: exact attack sizes, untouched files on disk, and a defence that works."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from fraudctl.config import parse_params
from fraudctl.data.schema import Schema
from fraudctl.experiments.poison import inject, random_flip, screen_labels, targeted_flip
from fraudctl.model.families import model_spec
from fraudctl.model.fitting import fit, score
from fraudctl.model.metrics import pr_auc
from tests.conftest import invoke, write_params
from tests.experiments.conftest import SMALL_EXPERIMENTS

SCHEMA = Schema(
    time="Time",
    amount="Amount",
    target="Class",
    features=(*(f"V{i}" for i in range(1, 29)), "Amount"),
)


def _frame(n: int = 2000, frauds: int = 100) -> pd.DataFrame:
    from fraudctl.data.synthetic import generate_transactions

    return generate_transactions(n_rows=n, fraud_rate=frauds / n, seed=5)


def test_random_flip_changes_exactly_the_requested_labels():
    frame = _frame()
    attacked = random_flip(frame, "Class", 0.15, np.random.default_rng(0))
    assert attacked.changed == 300
    assert int((attacked.frame["Class"] != frame["Class"]).sum()) == 300
    assert frame["Class"].sum() == 100  # the input is not modified
    pd.testing.assert_frame_equal(attacked.frame.drop(columns="Class"), frame.drop(columns="Class"))


def test_targeted_flip_only_hides_frauds():
    frame = _frame()
    attacked = targeted_flip(frame, "Class", 0.5, np.random.default_rng(0))
    changed = attacked.frame["Class"] != frame["Class"]
    assert attacked.changed == 50 == int(changed.sum())
    assert (frame.loc[changed, "Class"] == 1).all() and (
        attacked.frame.loc[changed, "Class"] == 0
    ).all()


def test_injection_adds_fraud_like_rows_labelled_legitimate():
    frame = _frame()
    attacked = inject(frame, SCHEMA, 2.0, np.random.default_rng(0))
    assert attacked.changed == 200 and len(attacked.frame) == len(frame) + 200
    added = attacked.frame.iloc[len(frame) :]
    assert (added["Class"] == 0).all()
    pd.testing.assert_frame_equal(attacked.frame.iloc[: len(frame)], frame)
    frauds = frame[frame["Class"] == 1]
    assert abs(added["V14"].mean() - frauds["V14"].mean()) < 0.5 * frame["V14"].std()


def _separable(n: int, frauds: int, seed: int) -> pd.DataFrame:
    """Frauds shifted in a few of ten features: learnable, so hidden frauds stand out."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    y = np.zeros(n, dtype=np.int8)
    y[rng.choice(n, frauds, replace=False)] = 1
    x[y == 1, :4] += 1.8
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    return frame.assign(Time=np.arange(n, dtype=float), Amount=rng.lognormal(3, 1, n), Class=y)


def test_defence_recovers_pr_auc_under_a_targeted_attack():
    """90 % of frauds hidden: relabelling what the detector contradicts brings signal back."""
    schema = Schema(
        time="Time", amount="Amount", target="Class", features=tuple(f"f{i}" for i in range(10))
    )
    model = model_spec(
        parse_params(
            {
                "model": {
                    "lightgbm": {"n_estimators": 40, "learning_rate": 0.1, "min_child_samples": 10}
                }
            }
        ).model
    )
    gains = []
    for seed in range(3):
        train, test = _separable(4000, 300, seed=10 + seed), _separable(4000, 300, seed=20 + seed)
        attacked = targeted_flip(train, "Class", 0.9, np.random.default_rng(seed))
        labels = test["Class"].to_numpy()
        undefended = pr_auc(labels, score(fit(model, 42, attacked.frame, schema), test, schema))
        screened, touched = screen_labels(model, attacked.frame, schema, seed=0, folds=3, trees=40)
        restored = (screened["Class"] == 1) & (attacked.frame["Class"] == 0) & (train["Class"] == 1)
        assert restored.sum() >= 0.2 * attacked.changed and touched >= restored.sum()
        gains.append(
            pr_auc(labels, score(fit(model, 42, screened, schema), test, schema)) - undefended
        )
    assert np.mean(gains) >= 0.02, gains


def _digest(project) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((project / "data" / "prepared").glob("*.parquet"))
    }


def test_poison_command_end_to_end(trained_project, runner):
    before = _digest(trained_project)
    result = invoke(runner, "experiment", "poison")
    assert result.exit_code == 0, result.output
    assert _digest(trained_project) == before  # clean splits are never modified on disk
    # Not a terminal: one plain progress line per grid cell, with its count.
    cells = [line for line in result.output.splitlines() if re.match(r"poisoning: .* \(\d+/", line)]
    assert len(cells) == 4 and "(4/4)" in cells[-1], result.output
    directory = trained_project / "reports" / "poison"
    metrics = json.loads((directory / "results.json").read_text())
    assert set(metrics["attacks"]) == {"random", "targeted", "injection"}
    cell = metrics["attacks"]["random"]["0.1"]
    assert cell["labels_changed"] == round(0.1 * metrics["sampled"]["train_rows_used"])
    for variant in ("undefended", "defended"):
        assert 0 <= cell[variant]["pr_auc"]["mean"] <= 1
    assert metrics["headline"] in (directory / "summary.md").read_text()
    for name in ("random.csv", "targeted.csv", "injection.csv", "degradation.png"):
        assert (directory / name).stat().st_size > 0
    assert len(pd.read_csv(directory / "targeted.csv")) == 2

    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name("fraud-poisoning")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.mlflow.parentRunId != ''"
    )
    assert any(r.data.params.get("attack") == "targeted" for r in runs)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"random_levels": [1.5]}, "experiments.poison.random_levels.0"),
        ({"attacks": ["backdoor"]}, "experiments.poison.attacks.0"),
        (
            {"model": {"lightgbm": {"n_estimators": "many"}}},
            "experiments.poison.model.lightgbm.n_estimators",
        ),
        ({"model": {"name": "xgboostt"}}, "unknown model 'xgboostt'"),
    ],
)
def test_bad_poison_params_fail_before_work(trained_project, runner, override, message):
    params = json.loads(json.dumps(SMALL_EXPERIMENTS))
    params["experiments"]["poison"].update(override)
    write_params(trained_project, params)
    result = invoke(runner, "experiment", "poison")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (trained_project / "reports" / "poison").exists()
