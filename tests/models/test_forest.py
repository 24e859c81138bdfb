"""The compiled forest reproduces LightGBM's probabilities exactly, or steps aside."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.model.bundle import load_model
from fraudctl.model.forest import compile_booster
from tests.conftest import FEATURES


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
    # 1..9 rows take the per-row scan, more take 64-row blocks with a partial last one
    for rows in (x, on_thresholds, extremes, x[:1], x[:7], x[:8], x[:65], x[:135]):
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
    assert forest is not None and forest.special_feature.size  # the per-row path
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
    probe[600:650, 1] = -1e-36  # read as zero, so category 0
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


def test_wide_trees_use_wide_masks_and_the_widest_are_left_to_the_booster():
    """Up to 32 leaves fit a 32-bit live-leaf mask, up to 64 a 64-bit one; beyond, the
    booster scores (still exact, only slower)."""
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(6000, 6))
    x[rng.random(x.shape) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) + x[:, 1] * x[:, 2] + rng.normal(size=6000) > 0.5).astype(int)
    for leaves, word in ((31, np.uint32), (60, np.uint64)):
        model = LGBMClassifier(n_estimators=20, num_leaves=leaves, min_child_samples=5, verbose=-1)
        booster = model.fit(x, y).booster_
        forest = compile_booster(booster)
        assert forest is not None and forest.mask.dtype == word
        for rows in (x[:3], x):
            np.testing.assert_array_equal(
                forest.raw_scores(rows), booster.predict(rows, raw_score=True)
            )
    model = LGBMClassifier(n_estimators=3, num_leaves=100, min_child_samples=5, verbose=-1)
    assert compile_booster(model.fit(x, y).booster_) is None


def test_nan_counts_as_zero_where_missing_values_were_not_seen():
    """A feature with no NaN in training gets missing_type None: a NaN at scoring time goes
    where a zero would."""
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 3))
    y = (x[:, 0] > -0.3).astype(int)  # splits below zero: a NaN, read as 0, goes right
    booster = LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(x, y).booster_
    forest = compile_booster(booster)
    assert forest is not None
    probe = x[:100].copy()
    probe[::2, 0] = np.nan
    for rows in (probe, probe[:1], probe[:3]):
        np.testing.assert_array_equal(
            forest.raw_scores(rows), booster.predict(rows, raw_score=True)
        )


def _nan_model(leaves: int, seed: int):
    """A model whose features saw NaN in training (missing_type NaN, both default sides)
    and one that did not (a NaN there counts as zero)."""
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4000, 5))
    x[:, :4][rng.random((4000, 4)) < 0.15] = np.nan  # the last column never NaN in training
    y = (np.nan_to_num(x[:, 0], nan=2.0) + np.isnan(x[:, 1]) + x[:, 4] > 0.8).astype(int)
    model = LGBMClassifier(n_estimators=40, num_leaves=leaves, min_child_samples=5, verbose=-1)
    return x, model.fit(x, y).booster_


def test_sixteen_leaves_rank_in_16_bit_words_across_block_edges():
    """Up to 16 leaves the live-leaf words and the ranks are 16-bit; every batch size
    around the scan and block edges, NaN in both kinds of feature, values on thresholds
    and infinities give LightGBM's raw scores."""
    x, booster = _nan_model(15, 5)
    forest = compile_booster(booster)
    assert forest is not None and forest.mask.dtype == np.uint16
    assert forest.position.dtype == np.uint16
    probe = np.vstack([x, np.full((1, 5), np.inf), np.full((1, 5), -np.inf), np.zeros((1, 5))])
    probe[-40:, 4] = np.nan  # NaN where training had none
    on = np.isfinite(forest.threshold)
    probe[: on.sum(), :][np.arange(on.sum()), forest.feature[on]] = forest.threshold[on]
    block = forest.block
    for rows in (1, 7, 8, 9, 16, 17, block - 1, block, block + 1, 2 * block + 9, len(probe)):
        part = probe[-rows:]
        np.testing.assert_array_equal(
            forest.raw_scores(part), booster.predict(part, raw_score=True), err_msg=str(rows)
        )
    np.testing.assert_array_equal(
        forest.raw_scores(probe, threads=2), booster.predict(probe, raw_score=True)
    )


@pytest.fixture(scope="module")
def nan_forest():
    x, booster = _nan_model(7, 6)
    forest = compile_booster(booster)
    assert forest is not None
    return x, booster, forest


@given(
    rows=st.integers(1, 700),
    nan_share=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
    scale=st.sampled_from([1.0, 1e-36, 1e-30, 1e6]),  # 1e-36: LightGBM reads it as 0
    seed=st.integers(0, 2**16),
)
@settings(deadline=None)
def test_any_batch_matches_lightgbm_bit_for_bit(nan_forest, rows, nan_share, scale, seed):
    x, booster, forest = nan_forest
    rng = np.random.default_rng(seed)
    probe = rng.normal(size=(rows, x.shape[1])) * scale
    probe[rng.random(probe.shape) < nan_share] = np.nan
    picked = rng.integers(0, len(forest.threshold), size=rows)  # some values on thresholds
    probe[np.arange(rows), forest.feature[picked]] = np.where(
        rng.random(rows) < 0.5,
        forest.threshold[picked],
        probe[np.arange(rows), forest.feature[picked]],
    )
    np.testing.assert_array_equal(forest.raw_scores(probe), booster.predict(probe, raw_score=True))
