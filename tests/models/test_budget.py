"""selection.budget: the anchor first, a portfolio within predicted seconds, blends scored
from cached out-of-fold scores, and one deterministic model whatever the clock says."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from fraudctl.config import ImbalanceParams, ModelParams, SelectionParams, parse_params
from fraudctl.data.schema import Schema
from fraudctl.errors import ConfigError
from fraudctl.model import portfolio
from fraudctl.model.costs import Cost, Shape, resampled
from fraudctl.model.families import model_spec
from tests.conftest import SMALL_PARAMS, _merge, example_params, invoke

# every family small, so each fold of the portfolio fits in a moment
QUICK_FAMILIES: dict[str, Any] = {
    "lightgbm": {"n_estimators": 40, "learning_rate": 0.1, "min_child_samples": 10},
    "xgboost": {"n_estimators": 40, "learning_rate": 0.1},
    "catboost": {"iterations": 40, "learning_rate": 0.2},
    "mlp": {"hidden_layers": [16], "max_iter": 15},
}
BUDGET: dict[str, Any] = {
    "selection": {"candidates": [], "budget": 45},
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


def _ulb_shaped() -> dict[str, Any]:
    return _merge(SMALL_PARAMS, BUDGET)


def _log() -> dict[str, Any]:
    return example_params(BUDGET)


def _claims() -> dict[str, Any]:
    return _merge(_merge(SMALL_PARAMS, BUDGET), CLAIMS)


DATASETS = {"ulb-shaped": _ulb_shaped, "transaction-log": _log, "claims": _claims}


def _digest(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _train(runner) -> tuple[dict[str, Any], dict[str, str], bytes]:
    result = invoke(runner, "train")
    assert result.exit_code == 0, result.output
    report = Path("reports/train.json").read_bytes()
    return json.loads(report), _digest(Path("models/model")), report


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_the_budget_never_chooses_below_the_anchor_and_chooses_the_same_twice(
    dataset, project, runner, registry_name, monkeypatch
):
    """On three generated tables unlike each other: the anchor (model.name) is tried
    first, the chosen model's mean out-of-fold PR-AUC is at least the anchor's, the plan
    fits the budget, and a second train, on a clock that runs a thousand times too fast,
    writes the same model directory and train.json byte for byte."""
    params = DATASETS[dataset]()
    params["tracking"] = {"registered_model": registry_name}
    if dataset == "claims":
        claims_table().to_csv("claims.csv", index=False)
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    for args in (["data"], ["features", "build"]):
        assert invoke(runner, *args).exit_code == 0

    first, model_files, report_bytes = _train(runner)
    selection = first["selection"]
    tried = selection["budget"]["tried"]
    anchor = tried[0]
    assert anchor["role"] == "anchor" and anchor["name"] == "lightgbm"
    chosen = next(t for t in tried if t["name"] == selection["chosen"])
    assert chosen["oof_pr_auc"] >= anchor["oof_pr_auc"]
    assert selection["mean_pr_auc"] >= anchor["oof_pr_auc"] - 5e-4  # three decimals
    assert first["model"] == chosen["model"]
    assert selection["budget"]["planned_seconds"] <= 45
    names = [t["name"] for t in tried] + [s["name"] for s in selection["budget"]["skipped"]]
    assert "logistic_regression" in names and "catboost" in names
    variants = {"xgboost-onehot", "lightgbm-small"}
    if dataset == "claims":  # several categorical inputs: the one-hot and small trees
        assert variants <= {t["name"] for t in tried}
        assert "mlp" not in {t["name"] for t in tried}  # mostly text
    else:
        assert not variants & {t["name"] for t in tried}

    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: real() * 1000.0)
    _, second_files, second_bytes = _train(runner)
    assert second_bytes == report_bytes
    assert second_files == model_files


def _period(seed: int, rows: int = 3000) -> tuple[pd.DataFrame, Schema]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    logit = -3.5 + 1.2 * x[:, 0] - 0.8 * x[:, 1] ** 2 + 0.6 * x[:, 2] * x[:, 3]
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["t"] = np.arange(rows, dtype=float) * 60
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, Schema(time="t", amount=None, target="y", features=("a", "b", "c", "d"))


def _model(**blocks: Any) -> Any:
    raw = {**QUICK_FAMILIES, **blocks}
    return model_spec(ModelParams.model_validate({"name": "lightgbm", **raw}))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_choice_is_the_anchor_or_better_and_its_refit_fits(seed):
    period, schema = _period(seed)
    found = portfolio.search(_model(), 7, SelectionParams(budget=45.0), period, schema)
    anchor = found.trials[0]
    assert anchor.role == "anchor" and found.chosen.mean_pr_auc >= anchor.mean_pr_auc
    assert found.chosen is anchor or found.spent + found.chosen.refit_seconds <= 45.0
    best = max(found.trials, key=lambda t: (t.mean_pr_auc, -found.trials.index(t)))
    affordable = [t for t in found.trials if found.spent + t.refit_seconds <= 45.0]
    assert found.chosen.mean_pr_auc == max(t.mean_pr_auc for t in [anchor, *affordable])
    assert best.mean_pr_auc >= found.chosen.mean_pr_auc
    blends = [t for t in found.trials if t.role == "blend"]
    assert blends and all(len({m.model.name for m in b.members}) == len(b.members) for b in blends)


def test_a_small_budget_tries_the_anchor_alone_and_says_why():
    period, schema = _period(3)
    found = portfolio.search(_model(), 7, SelectionParams(budget=0.01), period, schema)
    assert [t.name for t in found.trials] == ["lightgbm"] and found.chosen.name == "lightgbm"
    reasons = {s.name: s.reason for s in found.skipped}
    assert "s left" in reasons["logistic_regression"] and "catboost" in reasons
    report = found.report()
    assert report["chosen"] == "lightgbm"
    assert [s["name"] for s in report["budget"]["skipped"]][:1] == ["logistic_regression"]
    assert "measured" not in json.dumps(report)  # no clock in the tracked report


def test_a_blend_refits_each_member_once_and_scores_like_its_out_of_fold_ranks(tmp_path):
    """The saved blend's reference is the members' pooled out-of-fold scores; saved and
    loaded, it scores rows exactly as before, and says where its reference came from."""
    from fraudctl.model import payloads
    from fraudctl.model.ensemble import BlendClassifier, rank_average, rank_reference

    period, schema = _period(4)
    found = portfolio.search(_model(), 7, SelectionParams(budget=45.0), period, schema)
    blend = next(t for t in found.trials if t.role == "blend")
    fitted = portfolio.fit_chosen(blend, 7, period, schema)
    assert isinstance(fitted, BlendClassifier) and fitted.reference_from == "out_of_fold"
    assert [kind for kind, _ in fitted.members] == [m.model.name for m in blend.members]
    pooled = np.column_stack([m.pooled for m in blend.members])
    np.testing.assert_array_equal(fitted.reference, rank_reference(pooled))
    np.testing.assert_allclose(rank_average(pooled, fitted.reference), blend.pooled)
    rows = period[list(schema.features)]
    payloads.BLEND.save(fitted, tmp_path / "blend")
    loaded = payloads.BLEND.load(tmp_path / "blend")
    np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
    assert loaded.describe() == fitted.describe()
    assert blend.model.name == "ensemble" and list(blend.model.section().members) == [
        m.model.name for m in blend.members
    ]


def test_costs_scale_with_rows_inputs_and_work_and_resampling_changes_the_rows():
    cost = Cost(1.0, 2.0, 10.0, work="n_estimators", measured_work=100)
    shape = Shape(rows=1_000_000, frauds=1000, numeric=3, categorical=1)
    assert cost.seconds(shape) == pytest.approx(1.0 + 6.0 + 10.0)
    assert cost.seconds(shape, {"n_estimators": 50}) == pytest.approx(8.5)
    assert resampled(shape, ImbalanceParams()) == [shape]
    under = resampled(shape, ImbalanceParams(resample="random_undersample", ratio=0.1))
    assert under == [Shape(11_000, 1000, 3, 1)]
    bags = resampled(shape, ImbalanceParams(resample="balanced_bagging", ratio=0.1, bags=3))
    assert bags == [Shape(11_000, 1000, 3, 1)] * 3
    smote = resampled(shape, ImbalanceParams(resample="smote", ratio=0.1))
    assert smote[0].frauds == round(999_000 * 0.1) and smote[0].rows > shape.rows


def test_a_budget_next_to_folds_zero_is_refused_and_the_default_is_not():
    parse_params({"selection": {"folds": 0}})  # the default budget: the plain split
    with pytest.raises(ConfigError, match=r"selection: budget searches on the prequential"):
        parse_params({"selection": {"folds": 0, "budget": 30}})
    with pytest.raises(ConfigError, match=r"selection.budget"):
        parse_params({"selection": {"budget": 0}})
