"""Serving's scorers give the estimator's own probabilities, the default blend included."""

from __future__ import annotations

import numpy as np
import pytest

from fraudctl.config import parse_params
from fraudctl.model.families import FAMILIES, BuildContext, model_spec
from fraudctl.model.scorers import linear_scorer, scorer_for

FEATURES = tuple(f"f{i}" for i in range(6))


def rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=n) > 2.2).astype(int)
    x[rng.random(n) < 0.15, 4] = np.nan  # history features are missing for first payments
    return x, y


def build(name: str, model: dict) -> object:
    params = parse_params({"model": {"name": name, **model}})
    context = BuildContext(model_spec(params.model), seed=3, features=FEATURES, categorical=())
    return FAMILIES[name].build(context)


@pytest.fixture(scope="module")
def blend():
    pytest.importorskip("torch", reason="the torch extra is part of `make test`'s install")
    x, y = rows(4000, 0)
    estimator = build(
        "ensemble",
        {
            "lightgbm": {"n_estimators": 30},
            "mlp": {"hidden_layers": [8], "max_iter": 20},
            "ensemble": {"members": ["lightgbm", "mlp", "logistic_regression"]},
        },
    )
    return estimator.fit(x, y)


@pytest.mark.parametrize("n", [1, 7, 300])
def test_the_default_blend_scores_as_its_predict_proba(blend, n):
    scorer, engine = scorer_for("ensemble", blend)
    assert engine == "blend(compiled-forest, predict_proba, numpy-linear)"
    x, _ = rows(n, 1)
    np.testing.assert_allclose(scorer(x), blend.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_a_stacked_blend_scores_as_its_predict_proba():
    x, y = rows(3000, 2)
    estimator = build(
        "ensemble",
        {
            "lightgbm": {"n_estimators": 20},
            "ensemble": {"members": ["lightgbm", "logistic_regression"], "method": "stacking"},
        },
    ).fit(x, y)
    scorer, _ = scorer_for("ensemble", estimator)
    test, _ = rows(200, 3)
    np.testing.assert_allclose(scorer(test), estimator.predict_proba(test)[:, 1], atol=1e-12)


def test_the_linear_pipeline_is_numpy_and_other_pipelines_are_not():
    x, y = rows(2000, 4)
    linear = build("logistic_regression", {}).fit(x, y)
    score = linear_scorer(linear)
    assert score is not None
    test, _ = rows(100, 5)
    np.testing.assert_allclose(score(test), linear.predict_proba(test)[:, 1], atol=1e-12)

    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    mean_imputed = make_pipeline(SimpleImputer(strategy="mean"), LogisticRegression()).fit(x, y)
    assert linear_scorer(mean_imputed) is None
    assert scorer_for("logistic_regression", mean_imputed)[1] == "predict_proba"
