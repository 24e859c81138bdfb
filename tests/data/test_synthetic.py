"""The synthetic generator: ULB-shaped, seeded, and not trivially separable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.data.schema import ULB_COLUMNS
from fraudctl.data.synthetic import generate_transactions


def test_shape_rate_and_seed():
    a = generate_transactions(n_rows=20_000, fraud_rate=0.0017, seed=1)
    b = generate_transactions(n_rows=20_000, fraud_rate=0.0017, seed=1)
    c = generate_transactions(n_rows=20_000, fraud_rate=0.0017, seed=2)
    assert tuple(a.columns) == ULB_COLUMNS
    assert len(a) == 20_000 and a["Class"].sum() == 34
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["Time"].is_monotonic_increasing
    assert a["Time"].between(0, 2 * 86_400).all()
    assert (a["Amount"] >= 0).all()


def test_traffic_is_diurnal_and_amounts_heavy_tailed():
    frame = generate_transactions(n_rows=50_000, seed=3)
    hours = (frame["Time"] // 3600 % 24).astype(int)
    counts = hours.value_counts()
    assert counts.loc[[2, 3, 4]].mean() < 0.4 * counts.loc[[12, 13, 14]].mean()
    amounts = frame["Amount"]
    assert amounts.mean() > 2 * amounts.median()
    assert amounts.max() > 50 * amounts.median()


def test_fraud_signal_is_real_but_overlapping():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    frame = generate_transactions(n_rows=60_000, fraud_rate=0.01, seed=4)
    features = [c for c in frame.columns if c.startswith("V")] + ["Amount"]
    half = len(frame) // 2
    model = LogisticRegression(max_iter=500).fit(frame[features][:half], frame["Class"][:half])
    scores = model.predict_proba(frame[features][half:])[:, 1]
    pr_auc = average_precision_score(frame["Class"][half:], scores)
    assert 0.3 < pr_auc < 0.95
    fraud_mean = frame.loc[frame["Class"] == 1, "V14"].mean()
    assert fraud_mean < frame.loc[frame["Class"] == 0, "V14"].mean() - 1.0
    assert np.isfinite(frame[features].to_numpy()).all()
