"""selection.budget in the library: the anchor first, a portfolio within predicted seconds,
blends scored from cached out-of-fold scores, and the same plan from the same inputs.
Training through the command line (reports, card, MLflow, refused values) is in
tests/models/test_budget_train.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fraudctl.config import ImbalanceParams, ModelParams, SelectionParams
from fraudctl.data.schema import Schema
from fraudctl.model import portfolio
from fraudctl.model.costs import Cost, Shape, resampled
from fraudctl.model.families import model_spec

# every family small, so each fold of the portfolio fits in a moment
QUICK_FAMILIES: dict[str, Any] = {
    "lightgbm": {"n_estimators": 40, "learning_rate": 0.1, "min_child_samples": 10},
    "xgboost": {"n_estimators": 40, "learning_rate": 0.1},
    "catboost": {"iterations": 40, "learning_rate": 0.2},
    "mlp": {"hidden_layers": [16], "max_iter": 15},
}


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


def _check_plan(found: portfolio.Search, budget: float) -> None:
    """What every search must hold, whatever the data: the anchor first and never beaten
    downwards, the plan within the budget once anything beyond the anchor ran, the choice
    the best affordable out-of-fold PR-AUC, and every skipped entry with its reason."""
    anchor = found.trials[0]
    assert anchor.role == "anchor" and anchor.model.name == "lightgbm"
    assert found.chosen.mean_pr_auc >= anchor.mean_pr_auc
    fitted = [t for t in found.trials if t.role != "blend"]
    if len(fitted) > 1:
        assert found.spent + found.chosen.refit_seconds <= budget + 1e-9
    affordable = [t for t in found.trials if found.spent + t.refit_seconds <= budget]
    assert found.chosen.mean_pr_auc == max(t.mean_pr_auc for t in [anchor, *affordable])
    assert all(s.reason for s in found.skipped)
    tried = {t.name for t in found.trials}
    assert not tried & {s.name for s in found.skipped}


def test_the_choice_is_the_anchor_or_better_and_its_refit_fits():
    period, schema = _period(0)
    found = portfolio.search(_model(), 7, SelectionParams(budget=45.0), period, schema)
    _check_plan(found, 45.0)
    blends = [t for t in found.trials if t.role == "blend"]
    assert blends and all(len({m.model.name for m in b.members}) == len(b.members) for b in blends)


@st.composite
def generated_tables(draw: Any) -> tuple[pd.DataFrame, Schema, float]:
    """A training period unlike the happy path: 1-5 numbers, 0-6 category-code columns
    (the features stage's encoding), 2-8 % frauds, a clock in seconds or in day steps
    (several rows a day), and a budget from nothing beyond the anchor to everything."""
    seed = draw(st.integers(0, 2**16))
    rows = draw(st.integers(1500, 2500))
    numeric = draw(st.integers(1, 5))
    categorical = draw(st.integers(0, 6))
    rate = draw(st.sampled_from([0.02, 0.04, 0.08]))
    days = draw(st.booleans())
    budget = draw(st.sampled_from([0.05, 0.3, 1.0, 45.0]))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"t": np.sort(rng.integers(0, 120, rows)) if days else np.arange(rows) * 37.0}
    )
    logit = np.full(rows, np.log(rate / (1 - rate)))
    for i in range(numeric):
        frame[f"x{i}"] = rng.normal(size=rows)
        logit += rng.normal(0, 0.8) * frame[f"x{i}"].to_numpy()
    names = []
    for i in range(categorical):
        levels = int(rng.integers(2, 12))
        codes = rng.integers(0, levels, rows)
        logit += rng.normal(0, 0.7, levels)[codes]
        frame[f"c{i}"] = codes.astype(np.float64)
        names.append(f"c{i}")
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    features = (*[f"x{i}" for i in range(numeric)], *names)
    unit = "d" if days else "s"
    schema = Schema("t", None, "y", features, categorical=tuple(names), time_unit=unit)
    return frame, schema, budget


@pytest.mark.slow
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_tables())
def test_on_any_generated_table_the_plan_holds_and_is_the_same_twice(table):
    """Each drawn table and budget: the plan's invariants, and a second search on the same
    inputs that tries, skips and chooses the same, with the same report to the byte."""
    period, schema, budget = table
    assume(period["y"].sum() >= 20)  # a fold needs frauds to score; a draw may have few
    selection = SelectionParams(budget=budget)
    found = portfolio.search(_model(), 7, selection, period, schema)
    _check_plan(found, budget)
    again = portfolio.search(_model(), 7, selection, period, schema)
    assert json.dumps(again.report()) == json.dumps(found.report())


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
