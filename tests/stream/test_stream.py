"""`fraudctl stream` against a real Redis: each transaction decided once, as batch scoring
decides it; retries of the producer ignored; labels reach the store; what cannot be read
goes to the dead letters with its reason; settings, metrics and probes."""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import invoke
from tests.stream.conftest import (
    assert_once_each,
    assert_store_replays_offline,
    consume,
    consume_in_thread,
    free_port,
    load_store,
    message,
    publish,
    publish_labels,
    wait_until,
)


def offline_probabilities(case) -> np.ndarray:
    """What `fraudctl score` gives the streamed rows with the history before them (their
    own labels unknown, as when they were decided)."""
    from fraudctl.model.bundle import load_model

    model = load_model(case.model_dir)
    unlabelled = case.stream.drop(columns=["transaction_id", "is_fraud"])
    return model.probabilities(case.transform.matrix(unlabelled, case.history))


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_every_transaction_is_decided_once_as_batch_scoring_decides(
    redis_server, client, case, tmp_path, kind
):
    store_uri = redis_server.uri if kind == "redis" else f"sqlite:///{tmp_path / 'online.db'}"
    store = load_store(store_uri, case)
    publish(client, case.stream)
    publish(client, case.stream.iloc[::17])  # the producer's retries: same ids again
    port = free_port()
    thread, stop, out = consume_in_thread(
        redis_server, case, store_uri, metrics_port=port, exit_when_idle=0, batch_size=97
    )
    base = f"http://127.0.0.1:{port}"
    duplicates = len(case.stream.iloc[::17])
    read_all = (
        f'fraudctl_stream_messages_total{{stream="transactions"}} {len(case.stream) + duplicates}',
        f"fraudctl_stream_duplicates_total {duplicates}",
    )

    def scrape() -> str:
        return urllib.request.urlopen(f"{base}/metrics").read().decode()

    wait_until(lambda: client.xlen("decisions") >= len(case.stream))
    wait_until(lambda: client.xpending("transactions", "fraudctl")["pending"] == 0)
    # Nothing pending says nothing of messages not yet read: the retries come last, and
    # may still be on their way once every transaction is decided.
    with contextlib.suppress(AssertionError):  # the assertions below name what is missing
        wait_until(lambda: all(line in scrape() for line in read_all), timeout=30)
    with urllib.request.urlopen(f"{base}/health/ready") as ready:
        assert ready.status == 200
    metrics = scrape()
    stop.set()
    thread.join(30)
    decided = assert_once_each(client, case)
    summary = out["summary"]
    assert summary.totals.decided == len(case.stream)
    assert summary.totals.duplicates == duplicates
    for line in (
        *read_all,
        'fraudctl_stream_pending{stream="transactions"} ',
        "fraudctl_stream_batch_seconds_count",
        "fraudctl_stream_event_to_decision_seconds_bucket",
    ):
        assert line in metrics, line

    probabilities = np.array([decided[tx]["probability"] for tx in case.stream["transaction_id"]])
    np.testing.assert_allclose(probabilities, offline_probabilities(case), rtol=0, atol=1e-9)
    threshold = decided["tx-0"]["threshold"]
    flagged = {tx for tx, r in decided.items() if r["probability"] >= threshold}
    assert {tx for tx, r in decided.items() if r["decision"] == "review"} == flagged
    assert {r["decision"] for r in decided.values()} <= {"review", "allow"}
    assert all(r["rule"] is None and r["model_version"] for r in decided.values())
    alerts = {json.loads(f[b"record"])["transaction_id"] for _, f in client.xrange("alerts")}
    assert alerts == flagged and client.xlen("alerts") == len(flagged)

    # labels arrive later on their own stream; one names a transaction nobody scored
    publish_labels(client, case.stream)
    client.xadd("labels", {"label": json.dumps({"transaction_id": "nobody", "is_fraud": 1})})
    summary = consume(redis_server, case, store_uri)
    assert summary.totals.labels == len(case.stream) and summary.totals.dead_letters == 1
    [(_, dead)] = client.xrange("dead-letters")
    assert dead[b"stream"] == b"labels" and b"'nobody'" in dead[b"reason"]
    assert_store_replays_offline(store, case)
    assert client.xlen("decisions") == len(case.stream)  # labels decide nothing


BAD_MESSAGES = {
    "not JSON": (lambda row: {"transaction": b'{"amount": 3,'}, "not valid JSON"),
    "no transaction field": (lambda row: {"payload": b"{}"}, "no 'transaction' field"),
    "missing id": (lambda row: _without(row, "transaction_id"), "transaction_id: missing"),
    "missing entity": (lambda row: _without(row, "terminal_id"), "terminal_id: missing"),
    "amount as text": (lambda row: _with(row, amount="12.50"), "amount:"),
    "negative amount": (lambda row: _with(row, amount=-1.0), "amount:"),
    "amount beyond the contract": (lambda row: _with(row, amount=1e12), "amount:"),
    "year 3000": (lambda row: _with(row, timestamp="3000-01-01T00:00:00"), "timestamp:"),
}


def _fields(row: dict) -> dict:
    return json.loads(message(row)["transaction"])


def _without(row: dict, name: str) -> dict[str, bytes]:
    fields = _fields(row)
    del fields[name]
    return {"transaction": json.dumps(fields).encode()}


def _with(row: dict, **changes: object) -> dict[str, bytes]:
    return {"transaction": json.dumps({**_fields(row), **changes}).encode()}


@pytest.fixture(scope="module")
def scorer(case, redis_server):
    """One loaded consumer for many small batches (its store: a Redis database of its own)."""
    import logging

    import redis

    from fraudctl.serve.predictor import load_predictor
    from fraudctl.stream.consumer import StreamConsumer
    from fraudctl.stream.redis_streams import RedisStreamAlerts, RedisStreams
    from fraudctl.stream.telemetry import StreamMetrics

    store_uri = redis_server.uri.replace("/0", "/1")
    redis.Redis.from_url(store_uri).flushdb()
    load_store(store_uri, case)
    predictor = load_predictor(str(case.model_dir), online_store=store_uri)

    def build(prefix: str) -> tuple[StreamConsumer, RedisStreams]:
        transport = RedisStreams(
            redis_server.uri, [f"{prefix}-tx"], "g", "c", f"{prefix}-decisions", f"{prefix}-dead"
        )
        transport.prepare()
        consumer = StreamConsumer(
            predictor,
            transport,
            RedisStreamAlerts(transport.client, f"{prefix}-alerts"),
            transactions=f"{prefix}-tx",
            consumer="c",
            max_deliveries=5,
            metrics=StreamMetrics(),
            logger=logging.getLogger("test"),
        )
        return consumer, transport

    return build


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from([None, *BAD_MESSAGES])),
        min_size=1,
        max_size=25,
    )
)
def test_a_bad_message_goes_to_the_dead_letters_with_its_reason_and_the_rest_go_on(
    redis_server, case, scorer, picks
):
    prefix = uuid.uuid4().hex[:8]
    consumer, transport = scorer(prefix)
    client = redis_server.client()
    expected: dict[str, str | None] = {}
    for k, (row_number, bad) in enumerate(picks):
        row = case.stream.iloc[row_number].to_dict()
        row["transaction_id"] = f"{prefix}-{k}"
        fields = message(row) if bad is None else BAD_MESSAGES[bad][0](row)
        expected[client.xadd(f"{prefix}-tx", fields).decode()] = (
            None if bad is None else BAD_MESSAGES[bad][1]
        )
    messages = transport.read(100, 10)
    result = consumer.handle(messages)
    dead = {f[b"id"].decode(): f[b"reason"].decode() for _, f in client.xrange(f"{prefix}-dead")}
    decided = {
        json.loads(f[b"record"])["event_id"] for _, f in client.xrange(f"{prefix}-decisions")
    }
    assert decided | set(dead) == set(expected) and not decided & set(dead)
    for entry_id, reason in expected.items():
        if reason is not None:
            assert reason in dead[entry_id], (reason, dead[entry_id])
    assert result.dead_letters == len(dead) and result.decided == len(decided)
    assert client.xpending(f"{prefix}-tx", "g")["pending"] == 0


def test_a_message_delivered_too_often_is_dead_lettered_not_scored(redis_server, case, scorer):
    prefix = uuid.uuid4().hex[:8]
    consumer, transport = scorer(prefix)
    client = redis_server.client()
    row = case.stream.iloc[0].to_dict() | {"transaction_id": f"{prefix}-poison"}
    client.xadd(f"{prefix}-tx", message(row))
    client.xreadgroup("g", "gone", {f"{prefix}-tx": ">"})
    for _ in range(5):  # five consumers died on it
        assert transport.claim(0, 10)
        transport.recover()
    [claimed] = transport.claim(0, 10)
    assert claimed.deliveries == 7
    result = consumer.handle([claimed])
    assert result.dead_letters == 1 and result.decided == 0
    [(_, dead)] = client.xrange(f"{prefix}-dead")
    assert b"delivered 7 times" in dead[b"reason"]


def test_settings_refused_in_one_line(runner, case, monkeypatch):
    monkeypatch.setenv("FRAUDCTL_STREAM_DECISIONS", "transactions")
    result = invoke(runner, "stream", "--model", str(case.model_dir))
    assert result.exit_code == 2
    assert "stream 'transactions' is named for two roles" in result.output
    monkeypatch.delenv("FRAUDCTL_STREAM_DECISIONS")
    monkeypatch.setenv("FRAUDCTL_STREAM_BATCH_SIZE", "0")
    result = invoke(runner, "stream", "--model", str(case.model_dir))
    assert result.exit_code == 2 and "FRAUDCTL_STREAM_BATCH_SIZE" in result.output
    monkeypatch.delenv("FRAUDCTL_STREAM_BATCH_SIZE")
    result = invoke(runner, "stream", "--broker", "kafka://somewhere:9092")
    assert result.exit_code == 2 and "expected redis://host:port/db" in result.output


def test_an_unreachable_broker_at_start_is_one_line(runner, case, redis_server, tmp_path):
    store = f"sqlite:///{tmp_path / 'online.db'}"
    load_store(store, case)
    result = invoke(
        runner,
        "stream",
        "--model",
        str(case.model_dir),
        "--online-store",
        store,
        "--broker",
        f"redis://:secret@127.0.0.1:{free_port()}/0",
        "--metrics-port",
        "0",
    )
    assert result.exit_code == 2, result.output
    assert "error: broker redis://:***@127.0.0.1:" in result.output
    assert "secret" not in result.output


def test_help_lists_every_setting_with_its_variable(runner):
    from fraudctl.cli import app
    from fraudctl.stream.settings import fields, variable

    result = runner.invoke(app, ["stream", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    for field in fields():
        assert variable(field) in text, field.name
