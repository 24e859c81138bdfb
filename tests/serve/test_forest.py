"""The compiled forest reproduces LightGBM's probabilities exactly, or steps aside."""

from __future__ import annotations

import numpy as np

from fraudctl.model.bundle import load_model
from fraudctl.serve.forest import compile_booster
from tests.serve.conftest import FEATURES


def test_matches_the_booster_on_real_rows_and_at_split_thresholds(model_dir, test_rows):
    estimator = load_model(model_dir).estimator
    booster = estimator.booster_
    forest = compile_booster(booster)
    assert forest is not None
    x = np.ascontiguousarray(test_rows[FEATURES].to_numpy(np.float64))
    # Rows sitting exactly on split thresholds, at zero and far out exercise every branch rule.
    on_thresholds = np.tile(x[:1], (len(forest.threshold), 1))
    internal = np.isfinite(forest.threshold)
    on_thresholds[internal, forest.feature[internal]] = forest.threshold[internal]
    extremes = np.vstack(
        [np.zeros((1, x.shape[1])), np.full((1, x.shape[1]), 1e12), np.full((1, x.shape[1]), -1e12)]
    )
    for rows in (x, on_thresholds, extremes, x[:1]):
        expected = booster.predict(rows)
        assert np.max(np.abs(forest.probabilities(rows) - expected)) <= 1e-12
        np.testing.assert_array_equal(
            forest.raw_scores(rows), booster.predict(rows, raw_score=True)
        )
    np.testing.assert_allclose(
        forest.probabilities(x),
        estimator.predict_proba(test_rows[FEATURES])[:, 1],
        rtol=0,
        atol=1e-9,
    )


def test_zero_as_missing_follows_the_default_direction():
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 4))
    x[rng.random(x.shape) < 0.3] = 0.0
    y = ((x[:, 0] == 0) ^ (x[:, 1] > 0.3)).astype(int)
    model = LGBMClassifier(n_estimators=30, num_leaves=7, zero_as_missing=True, verbose=-1)
    model.fit(x, y)
    forest = compile_booster(model.booster_)
    assert forest is not None and forest.zero_missing.any()
    probe = np.vstack([x[:500], np.full((1, 4), 1e-36), np.full((1, 4), -1e-36)])
    np.testing.assert_array_equal(
        forest.raw_scores(probe), model.booster_.predict(probe, raw_score=True)
    )


def test_categorical_splits_nan_and_unknown_codes_match_lightgbm():
    import pandas as pd
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 40, 4000).astype(float)
    a = rng.normal(size=4000)
    a[rng.random(4000) < 0.1] = np.nan  # history features are NaN without history
    frame = pd.DataFrame({"a": a, "c": codes})
    y = (np.isin(codes, [1, 3, 7, 33]) ^ (np.nan_to_num(a) > 1)).astype(int)
    model = LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1)
    model.fit(frame, y, categorical_feature=["c"])
    forest = compile_booster(model.booster_)
    assert forest is not None
    probe = frame.to_numpy().copy()
    probe[:200, 1] = 57.0  # a category never seen in training
    probe[200:400, 1] = -2.0  # a negative code: LightGBM treats it as missing
    probe[400:600, 1] = np.nan
    expected = model.booster_.predict(probe)
    np.testing.assert_allclose(forest.probabilities(probe), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(forest.probabilities(probe, threads=2), expected, rtol=0, atol=1e-12)


def test_other_objectives_are_left_to_the_booster():
    from lightgbm import LGBMRegressor

    rng = np.random.default_rng(2)
    model = LGBMRegressor(n_estimators=5, verbose=-1).fit(
        rng.normal(size=(200, 3)), rng.normal(size=200)
    )
    assert compile_booster(model.booster_) is None
