"""Risk features from two label sources: chargebacks after ``delay``, analysts' decisions
after ``analyst_delay`` (a chargeback overrides the analyst), the same offline (the
transform) and online (either store, labels posted as they arrive), and a transform that
asks for no analyst delay written exactly as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.config import FeaturesParams, parse_params
from fraudctl.features.kernel import MS_PER_DAY, WindowSpec, entity_features
from fraudctl.features.online import OnlineFeatures, materialize, open_store
from fraudctl.features.transform import FeatureTransform
from tests.features.test_online import assert_same_features, redis_uri  # noqa: F401

HOUR = 3_600_000


def reference(
    spec: WindowSpec, time_ms: np.ndarray, labelled: np.ndarray, fraud: np.ndarray
) -> np.ndarray:
    """Risk and labelled count per row of one entity, by brute force over earlier rows:
    the window (ending ``delay`` before) reads the most trusted label; with an analyst
    delay, rows newer than the window and at least that old count with the analysts'."""
    out = np.zeros((len(time_ms), 2 * len(spec.risk_windows_ms)))
    analysts = spec.risk_analyst_delay_ms >= 0
    for i in range(len(time_ms)):
        due = time_ms[i] - spec.risk_delay_ms
        end = time_ms[i] - spec.risk_analyst_delay_ms if analysts else due
        for k, width in enumerate(spec.risk_windows_ms):
            known = frauds = 0
            for j in range(i):
                if due - width < time_ms[j] <= due:  # the most trusted label
                    if labelled[j]:
                        known += 1
                        frauds += fraud[j] & 1 if labelled[j] & 1 else (fraud[j] >> 1) & 1
                elif due < time_ms[j] <= end and labelled[j] & 2:  # fresh: the analysts'
                    known += 1
                    frauds += (fraud[j] >> 1) & 1
            out[i, 2 * k] = frauds / known if known else 0.0
            out[i, 2 * k + 1] = known
    return out


@settings(deadline=None, max_examples=150)
@given(
    data=st.data(),
    delays=st.tuples(st.integers(0, 8), st.integers(0, 8)).map(sorted),
    analysts=st.booleans(),
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=2, unique=True),
)
def test_the_risk_kernel_reads_each_source_after_its_delay(data, delays, analysts, widths):
    n = data.draw(st.integers(1, 30))
    time_ms = np.sort(np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))))
    time_ms = time_ms * (MS_PER_DAY // 4)  # quarter days: ties and window edges happen
    labelled = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    fraud = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))) & labelled
    analyst_delay, delay = (d * MS_PER_DAY // 4 for d in delays)
    spec = WindowSpec(
        role="t",
        windows_ms=(),
        aggregates=(),
        relative_amount=False,
        time_since_previous=False,
        risk_windows_ms=tuple(w * MS_PER_DAY // 4 for w in widths),
        risk_delay_ms=delay,
        risk_analyst_delay_ms=analyst_delay if analysts else -1,
    )
    got = entity_features(spec, np.zeros(n), time_ms, np.zeros(n), labelled, fraud)
    np.testing.assert_allclose(got, reference(spec, time_ms, labelled, fraud), atol=1e-12)


PARAMS = {
    "entities": {
        "terminal": {
            "windows": ["1d"],
            "aggregates": ["count"],
            "risk": {"windows": ["1d", "7d"], "delay": "7d", "analyst_delay": "1d"},
        },
        "customer": {"windows": ["1d"], "aggregates": ["count"]},
    }
}


def _log(seed: int = 4) -> pd.DataFrame:
    """A log with chargebacks (``is_fraud``) and analysts' labels on a quarter of the rows,
    right four times out of five."""
    from fraudctl.data.synthetic_transactions import generate_transaction_log

    frame = generate_transaction_log(n_customers=40, n_terminals=30, days=30, seed=seed)
    rng = np.random.default_rng(seed)
    reviewed = rng.random(len(frame)) < 0.25
    right = rng.random(len(frame)) < 0.8
    decided = np.where(right, frame["is_fraud"], 1 - frame["is_fraud"]).astype(float)
    return frame.assign(analyst_label=np.where(reviewed, decided, np.nan))


def _transform(frame: pd.DataFrame, params: dict) -> FeatureTransform:
    return FeatureTransform.fit(
        frame,
        time="timestamp",
        target="is_fraud",
        amount="amount",
        features=["amount"],
        categorical=[],
        entities={"customer": "customer_id", "terminal": "terminal_id"},
        params=FeaturesParams.model_validate(params),
        analyst="analyst_label",
    )


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_online_features_with_analysts_equal_the_offline_ones(backend, tmp_path, request):
    """History loaded with both sources; then rows scored one by one, each one's analyst
    label posted first (analysts are fast) and its chargeback after it (the offline
    transform knows both of every earlier row: the kernel's delays keep them apart)."""
    uri = (
        f"sqlite:///{tmp_path / 'online.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("redis_uri")
    )
    frame = _log()
    transform = _transform(frame, PARAMS)
    store = open_store(uri)
    start = len(frame) // 2
    materialize(transform, store, frame.iloc[:start])
    online = OnlineFeatures(transform, store)
    vectors = []
    for row in frame.iloc[start:].to_dict("records"):
        row["transaction_id"] = str(row["transaction_id"])
        tx = online.transaction(row)
        vectors.append(online.vector(row, tx))
        online.record([tx])
        if not np.isnan(row["analyst_label"]):
            store.label(row["transaction_id"], int(row["analyst_label"]), source="analyst")
        store.label(row["transaction_id"], int(row["is_fraud"]), source="chargeback")
    offline = transform.matrix(frame)[start:]
    assert_same_features(np.vstack(vectors), offline)
    store.clear()


def test_analysts_light_up_a_risk_feature_days_before_the_chargebacks():
    """One terminal, frauds on day 0 found by analysts: with an analyst delay of a day the
    risk is known on day 1; from chargebacks alone (no analyst delay) on day 7."""
    stamps = pd.Timestamp("2026-03-02") + pd.to_timedelta([0, 1, 2, 26, 50, 170, 175], unit="h")
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "customer_id": [1, 2, 3, 4, 5, 6, 7],
            "terminal_id": 9,
            "amount": 10.0,
            "is_fraud": [1, 1, 0, 0, 0, 0, 0],
            "analyst_label": [1, 1, np.nan, np.nan, np.nan, np.nan, np.nan],
        }
    )
    with_analysts = _transform(frame, PARAMS).apply(frame)["terminal_risk_7d"]
    plain = {"entities": {"terminal": {"risk": {"windows": ["7d"], "delay": "7d"}}}}
    chargebacks = _transform(frame, plain).apply(frame)["terminal_risk_7d"]
    # analysts: their two frauds from day 1 (26 h); from day 7 the chargebacks of all three
    assert list(with_analysts) == [0, 0, 0, 1.0, 1.0, pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert list(chargebacks) == [0, 0, 0, 0, 0, pytest.approx(2 / 3), pytest.approx(2 / 3)]


def test_a_transform_without_analyst_delays_is_written_as_before():
    frame = _log()
    plain = json.loads(json.dumps(_transform(frame, {"entities": {"t": {}}}).to_dict()))
    assert "analyst" not in plain
    risk = {"entities": {"terminal": {"risk": {"windows": ["7d"]}}}}
    without = _transform(frame, risk).to_dict()
    assert "analyst" not in without
    assert all("risk_analyst_delay_ms" not in spec for spec in without["specs"])
    assert FeatureTransform.from_dict(without).to_dict() == without
    with_analysts = _transform(frame, PARAMS)
    assert with_analysts.to_dict()["analyst"] == "analyst_label"
    assert FeatureTransform.from_dict(with_analysts.to_dict()).digest() == with_analysts.digest()


def test_an_analyst_delay_needs_the_analysts_column_and_cannot_exceed_the_delay():
    from fraudctl.errors import ConfigError

    base = {"data": {"schema": {"entities": {"terminal": "terminal_id"}}}}
    risk = {"windows": ["7d"], "delay": "7d", "analyst_delay": "1d"}
    with pytest.raises(ConfigError, match=r"data\.schema\.analyst_label names no column"):
        parse_params({**base, "features": {"entities": {"terminal": {"risk": risk}}}})
    slow = {**risk, "analyst_delay": "9d"}
    with pytest.raises(ConfigError, match="analyst_delay 9d is longer than delay 7d"):
        parse_params({**base, "features": {"entities": {"terminal": {"risk": slow}}}})
