"""Point-in-time correctness of the history features, on hand-built sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudctl.config import FeaturesParams
from fraudctl.features.transform import FeatureTransform

DAY = pd.Timedelta(days=1)
FEATURES = FeaturesParams.model_validate(
    {
        "entities": {
            "customer": {
                "windows": ["1d", "7d"],
                "relative_amount": True,
                "time_since_previous": True,
            },
            "terminal": {
                "windows": ["1d"],
                "aggregates": ["count"],
                "risk": {"windows": ["7d"], "delay": "2d"},
            },
        },
        "calendar": ["hour", "night", "weekend"],
    }
)


def transform_for(frame: pd.DataFrame) -> FeatureTransform:
    return FeatureTransform.fit(
        frame,
        time="ts",
        target="y",
        amount="amount",
        features=["amount", "cat"],
        categorical=["cat"],
        entities={"customer": "cust", "terminal": "term"},
        params=FEATURES,
    )


def log(rows: list[tuple[str, str, str, float, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ts", "cust", "term", "amount", "cat", "y"]).assign(
        ts=lambda f: pd.to_datetime(f["ts"])
    )


BASE = log(
    [
        ("2026-04-01 10:00", "c1", "t1", 10.0, "food", 0),
        ("2026-04-01 22:30", "c1", "t2", 30.0, "food", 1),
        ("2026-04-02 09:00", "c2", "t1", 5.0, "fuel", 0),
        ("2026-04-04 12:00", "c1", "t1", 20.0, "fuel", 0),
        ("2026-04-05 08:00", "c1", "t1", 40.0, "food", 0),
    ]
)


def test_hand_computed_values():
    features = transform_for(BASE).apply(BASE)
    last = features.iloc[4]  # c1 on 04-05 08:00: 04-04 12:00 within 1d; all four within 7d
    assert last["customer_count_1d"] == 2
    assert last["customer_amount_sum_1d"] == pytest.approx(60.0)
    assert last["customer_count_7d"] == 4
    assert last["customer_amount_max_7d"] == pytest.approx(40.0)
    assert last["customer_amount_to_mean_7d"] == pytest.approx(40.0 / 25.0)
    assert last["customer_seconds_since_previous"] == pytest.approx(20 * 3600)
    # t1 risk over (now - 2d - 7d, now - 2d]: 04-01 10:00 and 04-02 09:00 are old enough
    assert last["terminal_labelled_7d"] == 2 and last["terminal_risk_7d"] == 0.0
    assert np.isnan(features.iloc[0]["customer_seconds_since_previous"])
    assert features.iloc[1]["is_night"] == 1.0 and features.iloc[1]["hour"] == 22.0
    assert features.iloc[3]["is_weekend"] == 1.0  # 2026-04-04 is a Saturday


def test_a_future_transaction_never_changes_a_past_row():
    before = transform_for(BASE).apply(BASE)
    future = log(
        [
            ("2026-04-05 08:00", "c1", "t1", 999.0, "food", 1),  # same second, later arrival
            ("2026-04-06 00:00", "c1", "t1", 500.0, "food", 1),
        ]
    )
    after = transform_for(BASE).apply(pd.concat([BASE, future], ignore_index=True))
    pd.testing.assert_frame_equal(after.iloc[: len(BASE)], before)


def test_a_label_newer_than_the_delay_is_never_used():
    frame = log(
        [
            ("2026-04-01 10:00", "c1", "t1", 10.0, "food", 1),
            ("2026-04-03 09:00", "c2", "t1", 10.0, "food", 0),  # 1 d 1 h before the last row
            ("2026-04-04 10:00", "c3", "t1", 10.0, "food", 0),
        ]
    )
    flipped = frame.assign(y=[1, 1, 1])  # labels inside the 2-day delay, and the row's own
    base = transform_for(frame).apply(frame).iloc[2]
    changed = transform_for(frame).apply(flipped).iloc[2]
    assert base["terminal_risk_7d"] == changed["terminal_risk_7d"] == 1.0
    assert base["terminal_labelled_7d"] == 1


def test_history_rows_feed_features_but_are_not_returned():
    transform = transform_for(BASE)
    whole = transform.apply(BASE)
    tail = transform.apply(BASE.iloc[3:], history=BASE.iloc[:3])
    pd.testing.assert_frame_equal(tail, whole.iloc[3:])


def test_unknown_or_missing_categories_score_as_missing():
    transform = transform_for(BASE)
    new = BASE.assign(cat=["food", "never-seen", None, "fuel", "food"])
    codes = transform.apply(new)["cat"]
    assert codes.iloc[0] == transform.categorical["cat"].index("food")
    assert np.isnan(codes.iloc[1]) and np.isnan(codes.iloc[2])


def test_the_kernel_matches_a_brute_force_on_random_logs():
    rng = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(np.sort(rng.integers(0, 20 * 86_400, n)), unit="s"),
            "cust": rng.integers(0, 15, n),
            "term": rng.integers(0, 10, n),
            "amount": np.round(rng.lognormal(3, 1, n), 2),
            "cat": rng.choice(["a", "b"], n),
            "y": (rng.random(n) < 0.2).astype(int),
        }
    )
    features = transform_for(frame).apply(frame)
    t = frame["ts"].to_numpy()
    for i in rng.choice(n, 60, replace=False):
        mine = (frame["cust"].to_numpy() == frame["cust"].iloc[i]) & (np.arange(n) <= i)
        in_week = mine & (t > t[i] - np.timedelta64(7, "D"))
        amounts = frame["amount"].to_numpy()[in_week]
        assert features["customer_count_7d"].iloc[i] == in_week.sum()
        assert features["customer_amount_sum_7d"].iloc[i] == pytest.approx(amounts.sum())
        assert features["customer_amount_max_7d"].iloc[i] == amounts.max()
        term = frame["term"].to_numpy() == frame["term"].iloc[i]
        due = t[i] - np.timedelta64(2, "D")
        risk = term & (t <= due) & (t > due - np.timedelta64(7, "D"))
        expected = frame["y"].to_numpy()[risk].mean() if risk.any() else 0.0
        assert features["terminal_risk_7d"].iloc[i] == pytest.approx(expected)
