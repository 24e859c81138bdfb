"""The skew test: replaying transactions through the online store gives the offline features."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest

from fraudctl.config import FeaturesParams
from fraudctl.data.synthetic_transactions import generate_transaction_log
from fraudctl.features.online import OnlineFeatures, materialize, open_store
from fraudctl.features.transform import FeatureTransform

FEATURES = FeaturesParams.model_validate(
    {
        "entities": {
            "customer": {
                "windows": ["1d", "7d", "30d"],
                "relative_amount": True,
                "time_since_previous": True,
            },
            "terminal": {
                "windows": ["1d", "7d"],
                "aggregates": ["count", "max"],
                "risk": {"windows": ["1d", "7d", "30d"], "delay": "7d"},
            },
        },
        "calendar": ["hour", "night", "weekend"],
    }
)


@pytest.fixture(scope="module")
def log():
    return generate_transaction_log(n_customers=40, n_terminals=60, days=50, seed=11)


@pytest.fixture(scope="module")
def transform(log) -> FeatureTransform:
    return FeatureTransform.fit(
        log,
        time="timestamp",
        target="is_fraud",
        amount="amount",
        features=["amount", "merchant_category"],
        categorical=["merchant_category"],
        entities={"customer": "customer_id", "terminal": "terminal_id"},
        params=FEATURES,
    )


def replay(transform, store, log, start: int) -> np.ndarray:
    """Score rows one by one as a server would, posting each label once it is known."""
    online = OnlineFeatures(transform, store)
    vectors = []
    for row in log.iloc[start:].to_dict("records"):
        row["transaction_id"] = str(row["transaction_id"])
        tx = online.transaction(row)
        vectors.append(online.vector(row, tx))
        online.record([tx])
        store.label(row["transaction_id"], int(row["is_fraud"]))
    return np.vstack(vectors)


def assert_same_features(online: np.ndarray, offline: np.ndarray) -> None:
    assert np.array_equal(np.isnan(online), np.isnan(offline))
    np.testing.assert_allclose(online, offline, rtol=0, atol=1e-9, equal_nan=True)


def test_online_features_equal_the_offline_stage_sqlite(tmp_path, log, transform):
    store = open_store(f"sqlite:///{tmp_path / 'online.db'}")
    start = len(log) // 2
    assert materialize(transform, store, log.iloc[:start]) == start
    offline = transform.matrix(log)[start:]
    assert_same_features(replay(transform, store, log, start), offline)


@pytest.fixture(scope="module")
def redis_uri() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server (Debian package 'redis-server'; .ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_online_features_equal_the_offline_stage_redis(redis_uri, log, transform):
    store = open_store(redis_uri)
    start = len(log) // 2
    materialize(transform, store, log.iloc[:start])
    offline = transform.matrix(log)[start:]
    assert_same_features(replay(transform, store, log, start), offline)


def test_a_label_for_an_unknown_transaction_is_reported(tmp_path, log, transform):
    store = open_store(f"sqlite:///{tmp_path / 'online.db'}")
    materialize(transform, store, log.iloc[:100])
    assert store.label(str(log["transaction_id"].iloc[5]), 1)
    assert not store.label("no-such-transaction", 1)


def test_an_unknown_store_uri_is_a_clear_error():
    from fraudctl.errors import ConfigError

    with pytest.raises(ConfigError, match="expected sqlite:///"):
        open_store("postgres://somewhere")


@pytest.mark.parametrize("per_statement", [400, 7])
def test_batches_give_the_offline_features_too(
    tmp_path, log, transform, monkeypatch, per_statement
):
    """/predict/batch's path: one look-up per entity, the batch's rows seeing each other;
    with 7 look-ups per statement, a batch's look-ups span several statements."""
    import fraudctl.features.sqlite_store as online_module

    monkeypatch.setattr(online_module, "_UNION_LIMIT", per_statement)
    store = open_store(f"sqlite:///{tmp_path / 'online.db'}")
    start = len(log) // 2
    materialize(transform, store, log.iloc[:start])
    online = OnlineFeatures(transform, store)
    rows = log.iloc[start:].to_dict("records")
    chunks = []
    for first in range(0, len(rows), 37):
        chunk = [
            {**row, "transaction_id": str(row["transaction_id"])}
            for row in rows[first : first + 37]
        ]
        txs = [online.transaction(row) for row in chunk]
        chunks.append(online.matrix(chunk, txs))
        online.record(txs)
        for row in chunk:  # labels arrive after the batch (the delay keeps them out for now)
            store.label(row["transaction_id"], int(row["is_fraud"]))
    assert_same_features(np.vstack(chunks), transform.matrix(log)[start:])


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_both_stores_keep_the_first_answer_per_transaction(backend, tmp_path, request):
    uri = (
        f"sqlite:///{tmp_path / 'answers.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("redis_uri")
    )
    store = open_store(uri)
    assert store.recall("t-1") is None
    store.remember("t-1", 0.25)
    store.remember("t-1", 0.75)  # a later answer does not replace the first
    assert store.recall("t-1") == 0.25 and store.recall("t-2") is None
    store.clear()
    assert store.recall("t-1") is None


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_day_clock_is_stored_and_compared_in_milliseconds(backend, tmp_path, request):
    """data.schema.time_unit: d: the store keeps the milliseconds the transform computes
    (day x 86,400,000) and its windows give the offline features of the same log."""
    from fraudctl.features.store import Events

    day_log = generate_transaction_log(n_customers=40, n_terminals=60, days=50, seed=11)
    day_log["timestamp"] = (day_log["timestamp"] - day_log["timestamp"].min()).dt.days
    no_calendar = FEATURES.model_copy(update={"calendar": []})
    transform = FeatureTransform.fit(
        day_log,
        time="timestamp",
        target="is_fraud",
        amount="amount",
        features=["amount", "merchant_category"],
        categorical=["merchant_category"],
        entities={"customer": "customer_id", "terminal": "terminal_id"},
        params=no_calendar,
        time_unit="d",
    )
    uri = (
        f"sqlite:///{tmp_path / 'online.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("redis_uri")
    )
    store = open_store(uri)
    start = len(day_log) // 2
    materialize(transform, store, day_log.iloc[:start])
    customer = str(day_log["customer_id"].iloc[0])
    [(events, _)] = store.window([("customer", customer, -1, 100 * 86_400_000)])
    assert isinstance(events, Events) and events.time_ms.size > 0
    assert set(events.time_ms % 86_400_000) == {0}  # whole days, in milliseconds
    first_days = day_log.loc[day_log["customer_id"].astype(str) == customer, "timestamp"]
    assert sorted(events.time_ms // 86_400_000) == sorted(first_days.iloc[: events.time_ms.size])
    offline = transform.matrix(day_log)[start:]
    assert_same_features(replay(transform, store, day_log, start), offline)
