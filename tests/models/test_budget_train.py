"""selection.budget through the command line: never below the fixed LightGBM on tables
unlike each other, the same model twice whatever the clock says, what was tried in
train.json, the card and MLflow, and a bad budget refused before anything is written."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import (
    SMALL_PARAMS,
    _merge,
    day_clock_params,
    day_step_log,
    example_params,
    invoke,
    write_params,
)
from tests.models.test_budget import QUICK_FAMILIES

BUDGET_SECONDS = 45
BUDGET: dict[str, Any] = {
    "selection": {"candidates": [], "budget": BUDGET_SECONDS},
    "model": QUICK_FAMILIES,
    "emissions": {"enabled": False},
}


def claims_table(rows: int = 4000, seed: int = 5) -> pd.DataFrame:
    """A claims-shaped table: eight text columns (3-12 levels) that carry the signal, with
    an interaction of two of them, a few numbers and a date: not ULB-shaped at all."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "claim_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(np.sort(rng.integers(0, 700, rows)), "D")
        }
    )
    logit = np.full(rows, -3.2)
    codes = {}
    for i in range(8):
        levels = int(rng.integers(3, 13))
        codes[i] = rng.integers(0, levels, rows)
        frame[f"text_{i}"] = np.array([f"t{i}_{k}" for k in range(levels)])[codes[i]]
        logit += rng.normal(0, 0.7, levels)[codes[i]]
    logit += 1.5 * ((codes[0] % 2 == 0) & (codes[1] % 3 == 0))
    frame["age"] = rng.integers(18, 80, rows)
    frame["deductible"] = rng.choice([300, 400, 500, 700], rows)
    logit += 0.01 * (40 - frame["age"]) + 0.5 * (frame["deductible"] == 700)
    frame["fraud"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.insert(0, "policy_number", np.arange(rows) + 1)
    return frame


CLAIMS: dict[str, Any] = {
    "data": {
        "source": "claims.csv",
        "schema": {
            "time": "claim_date",
            "amount": None,
            "target": "fraud",
            "features": "all",
            "categorical": [f"text_{i}" for i in range(8)],
            "exclude": ["policy_number"],
        },
    },
}

# few frauds: 0.4 % of 12,000 rows, about a dozen in each validation block
FEW_FRAUDS: dict[str, Any] = {"data": {"synthetic": {"n_rows": 12_000, "fraud_rate": 0.004}}}


def _write(name: str, frame: Callable[[], pd.DataFrame]) -> Callable[[], None]:
    return lambda: frame().to_csv(name, index=False)


# name -> (params with the budget, files the params read)
DATASETS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[], None] | None]] = {
    "ulb-shaped": (lambda: _merge(SMALL_PARAMS, BUDGET), None),
    "few-frauds": (lambda: _merge(_merge(SMALL_PARAMS, BUDGET), FEW_FRAUDS), None),
    "claims": (
        lambda: _merge(_merge(SMALL_PARAMS, BUDGET), CLAIMS),
        _write("claims.csv", claims_table),
    ),
    "transaction-log": (lambda: example_params(BUDGET), None),
    "day-step-clock": (lambda: day_clock_params(BUDGET), _write("log.csv", day_step_log)),
}


def _digest(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _write_params(params: dict[str, Any]) -> None:
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def _train(runner) -> tuple[dict[str, Any], dict[str, str], bytes]:
    result = invoke(runner, "train")
    assert result.exit_code == 0, result.output
    report = Path("reports/train.json").read_bytes()
    return json.loads(report), _digest(Path("models/model")), report


def _prepare(dataset: str, registry_name: str, runner) -> dict[str, Any]:
    make_params, make_files = DATASETS[dataset]
    params = make_params()
    params["tracking"] = {"registered_model": registry_name}
    if make_files is not None:
        make_files()
    _write_params(params)
    for args in (["data"], ["features", "build"]):
        result = invoke(runner, *args)
        assert result.exit_code == 0, result.output
    return params


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_the_budget_never_chooses_below_the_fixed_lightgbm_and_chooses_the_same_twice(
    dataset, project, runner, registry_name, monkeypatch
):
    """On five generated tables unlike each other (ULB-shaped, few frauds, eight text
    columns, a transaction log, a clock counting days): `train` without a budget gives the
    fixed LightGBM's out-of-fold PR-AUC; with the budget, LightGBM is tried first on the
    same folds (the same scores), the chosen model's is at least as good, the plan fits the
    budget, and a second train, on a clock that runs a thousand times too fast, writes the
    same model directory and train.json byte for byte."""
    params = _prepare(dataset, registry_name, runner)
    _write_params(_merge(params, {"selection": {"budget": None}}))
    fixed, _, _ = _train(runner)
    assert fixed["model"] == "lightgbm" and "budget" not in fixed["selection"]
    fixed_oof = fixed["selection"]["mean_pr_auc"]

    _write_params(params)
    first, model_files, report_bytes = _train(runner)
    selection = first["selection"]
    tried = selection["budget"]["tried"]
    anchor = tried[0]
    assert anchor["role"] == "anchor" and anchor["name"] == "lightgbm"
    assert anchor["oof_pr_auc"] == round(fixed_oof, 3)
    assert anchor["fold_pr_auc"] == [round(v, 3) for v in fixed["selection"]["fold_pr_auc"]]
    assert selection["mean_pr_auc"] >= fixed_oof  # never below the fixed LightGBM
    chosen = next(t for t in tried if t["name"] == selection["chosen"])
    assert chosen["oof_pr_auc"] >= anchor["oof_pr_auc"]
    assert first["model"] == chosen["model"]
    assert selection["budget"]["planned_seconds"] <= BUDGET_SECONDS
    names = [t["name"] for t in tried] + [s["name"] for s in selection["budget"]["skipped"]]
    assert "logistic_regression" in names and "catboost" in names
    variants = {"xgboost-onehot", "lightgbm-small"}
    if dataset == "claims":  # several categorical inputs: the one-hot and small trees
        assert variants <= {t["name"] for t in tried}
        assert "mlp" not in {t["name"] for t in tried}  # mostly text
    elif dataset in ("ulb-shaped", "few-frauds"):
        assert not variants & {t["name"] for t in tried}

    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: real() * 1000.0)
    _, second_files, second_bytes = _train(runner)
    assert second_bytes == report_bytes
    assert second_files == model_files


@pytest.mark.slow
def test_what_the_budget_tried_is_in_train_json_the_card_and_mlflow(project, runner, registry_name):
    """Each model tried (its out-of-fold PR-AUC, its predicted seconds) and each skipped
    (with why) in reports/train.json and the model card; in MLflow the same scores as
    metrics, the chosen model as a tag, and budget_search.json with the clock's seconds beside
    the predictions, whose total (every fold and the refit) stays within the budget."""
    import mlflow
    from mlflow import MlflowClient

    _prepare("ulb-shaped", registry_name, runner)
    for args in (["train"], ["evaluate"], ["card"]):
        result = invoke(runner, *args)
        assert result.exit_code == 0, result.output
    selection = json.loads(Path("reports/train.json").read_text())["selection"]
    budget = selection["budget"]
    tried, skipped = budget["tried"], budget["skipped"]
    assert budget["seconds"] == BUDGET_SECONDS and selection["chosen"] in selection["candidates"]
    assert [t["name"] for t in tried] == list(selection["candidates"])
    assert {t["role"] for t in tried} == {"anchor", "candidate", "blend"}
    for entry in tried:
        assert selection["candidates"][entry["name"]] == entry["oof_pr_auc"]
        assert entry["predicted_refit_seconds"] >= 0  # tenths: a tiny table's fits round to 0
        assert (entry["role"] == "blend") != ("predicted_cv_seconds" in entry)
    assert skipped and all(s["reason"] for s in skipped)

    card = Path("reports/model_card.md").read_text()
    assert f"## Model selection (budget {BUDGET_SECONDS} s)" in card
    assert f"Chosen: `{selection['chosen']}`" in card
    for entry in tried:
        assert f"| `{entry['name']}` | {entry['role']} | {entry['oof_pr_auc']:.3f} |" in card
    for entry in skipped:
        assert f"| `{entry['name']}` | not tried | – | {entry['reason']} |" in card

    client = MlflowClient()
    versions = client.search_model_versions(f"name='{registry_name}'")
    run = client.get_run(max(versions, key=lambda v: int(v.version)).run_id)
    assert run.data.tags["selection.chosen"] == selection["chosen"]
    assert run.data.params["selection.budget"] == str(float(BUDGET_SECONDS))
    for entry in tried:
        key = re.sub(r"[^\w./ -]", "_", entry["name"])
        assert run.data.metrics[f"oof_pr_auc.{key}"] == pytest.approx(entry["oof_pr_auc"])
        assert (f"cv_seconds.{key}" in run.data.metrics) == (entry["role"] != "blend")
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=".")
    table = json.loads((Path(local) / "budget_search.json").read_text())
    fitted = {t["name"] for t in tried if t["role"] != "blend"}
    assert set(table["measured_cv_seconds"]) == fitted
    assert table["measured_refit_seconds"] == pytest.approx(run.data.metrics["fit_seconds"])
    measured = sum(table["measured_cv_seconds"].values()) + table["measured_refit_seconds"]
    assert table["measured_seconds"] == pytest.approx(measured)
    assert run.data.metrics["budget_measured_seconds"] == pytest.approx(measured)
    # the small tables' fits take seconds: a search that ran past its plan would not
    assert 0 < measured <= BUDGET_SECONDS
    assert table["planned_seconds"] == budget["planned_seconds"] <= BUDGET_SECONDS


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"budget": -5}, "greater than 0"),
        ({"budget": 0}, "greater than 0"),
        ({"budget": "fast"}, "a valid number"),
        ({"budget": float("nan")}, "a finite number"),
        ({"budget": 100_000}, "less than or equal to 86400"),
        ({"budget": [45]}, "a valid number"),
        ({"folds": 0, "budget": 30}, "searches on the prequential folds and folds is 0"),
    ],
    ids=["negative", "zero", "text", "nan", "over-a-day", "list", "beside-folds-0"],
)
def test_a_bad_budget_is_refused_with_its_key_path_before_anything_is_written(
    project, runner, selection, expected
):
    write_params(project, {"selection": selection})
    result = invoke(runner, "train")
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "params.yaml: selection.budget:" in line and expected in line, line
    assert not Path("reports").exists() and not Path("models").exists()
