"""At-least-once delivery, effects once: consumers killed with SIGKILL (at each step of a
batch, and at a random moment beside a second consumer) and a Redis that goes away. After
each run every transaction has exactly one decision and the store replays offline."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.stream.conftest import (
    RedisServer,
    assert_once_each,
    assert_store_replays_offline,
    consume,
    consumer_process,
    load_store,
    publish,
    wait_until,
)

pytestmark = pytest.mark.slow

# The steps of a batch after which a consumer can die with its messages still pending
# (fraudctl/stream/consumer.py): answers remembered, events stored, alerts queued, and
# after the decisions were written and acknowledged (nothing pending then).
STEPS = ["stream:after-answers", "stream:after-history", "stream:after-alerts"]


def pending_with(client, consumer: str) -> int:
    import redis

    try:
        summary = client.xpending("transactions", "fraudctl")
    except redis.ResponseError:  # no group yet: no consumer has started
        return 0
    return sum(c["pending"] for c in summary["consumers"] if c["name"] == consumer.encode())


def decided_by(client, consumer: str) -> int:
    return sum(
        json.loads(fields[b"record"])["consumer"] == consumer
        for _, fields in client.xrange("decisions")
    )


def finish(redis_server, case, store_uri: str, client) -> tuple:
    """A second consumer takes over, labels follow; then the two checks."""
    summary = consume(redis_server, case, store_uri, claim_idle_ms=100, consumer="taker")
    decided = assert_once_each(client, case)
    assert_store_replays_offline(labelled_store(store_uri, case), case)
    return summary, decided


def labelled_store(uri: str, case):
    """The store with the streamed transactions' labels (the label stream has its own test:
    tests/stream/test_stream.py)."""
    from fraudctl.features.online import open_store

    store = open_store(uri)
    for tx_id, fraud in zip(case.stream["transaction_id"], case.stream["is_fraud"], strict=True):
        assert store.label(tx_id, int(fraud))
    return store


@pytest.mark.parametrize("step", STEPS)
def test_a_consumer_killed_mid_batch_leaves_its_messages_to_another(
    redis_server, client, case, step
):
    store_uri = redis_server.uri
    load_store(store_uri, case)
    publish(client, case.stream)
    killed = consumer_process(
        redis_server, case, store_uri, "doomed", "--batch-size", "300", FRAUDCTL_FAULT_AT=step
    )
    _, errors = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, errors[-2000:]
    assert client.xlen("decisions") == 0
    assert pending_with(client, "doomed") == 300  # the batch in hand, never acknowledged
    summary, decided = finish(redis_server, case, store_uri, client)
    assert summary.claimed == 300
    batch = {entry_id.decode() for entry_id, _ in client.xrange("transactions", count=300)}
    claimed = [r for r in decided.values() if r["event_id"] in batch]
    assert len(claimed) == 300 and all(r["consumer"] == "taker" for r in claimed)


def test_a_consumer_killed_beside_another_loses_nothing_and_doubles_nothing(
    redis_server, client, case
):
    store_uri = redis_server.uri
    load_store(store_uri, case)
    publish(client, case.stream)
    # claims only after 2 s idle, so what the first one left is still its own just after the
    # kill (a batch of 50 takes milliseconds)
    options = ("--batch-size", "50", "--block-ms", "50", "--claim-idle-ms", "2000")
    first = consumer_process(redis_server, case, store_uri, "first", *options)
    second = consumer_process(
        redis_server, case, store_uri, "second", *options, "--exit-when-idle", "2"
    )
    try:
        # the first one at work, with a batch in hand: then kill it
        wait_until(
            lambda: pending_with(client, "first") > 0 and decided_by(client, "first") > 0,
            timeout=120,
            every=0.05,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        left = pending_with(client, "first")  # its batch in hand (0 if it had just finished)
        _, errors = second.communicate(timeout=180)
        assert second.returncode == 0, errors[-2000:]
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait(10)
    decided = assert_once_each(client, case)  # nothing pending: the first's batch was taken
    by = {r["consumer"] for r in decided.values()}
    assert by == {"first", "second"}
    took = re.search(r"([\d,]+) claimed", errors)
    assert took and int(took.group(1).replace(",", "")) >= left, errors[-500:]
    assert_store_replays_offline(labelled_store(store_uri, case), case)


def test_redis_going_away_is_one_line_then_retries_and_resumes(case, tmp_path):
    server = RedisServer(tmp_path, durable=True)  # an append-only file, fsynced per write
    server.start()
    consumer = None
    try:
        client = server.client()
        store_uri = server.uri
        load_store(store_uri, case)
        half = len(case.stream) // 2
        publish(client, case.stream.iloc[:half])
        consumer = consumer_process(
            server,
            case,
            store_uri,
            "steady",
            *("--batch-size", "40", "--block-ms", "50", "--retry-max-seconds", "0.4"),
        )
        wait_until(lambda: client.xlen("decisions") >= half // 2, timeout=120)
        server.kill()  # SIGKILL: mid-batch, most likely
        time.sleep(1.5)
        server.start()
        client = server.client()
        publish(client, case.stream.iloc[half:])
        wait_until(lambda: client.xlen("decisions") >= len(case.stream), timeout=120)
        wait_until(lambda: client.xpending("transactions", "fraudctl")["pending"] == 0)
        consumer.send_signal(signal.SIGTERM)
        out, errors = consumer.communicate(timeout=30)
        assert consumer.returncode == 0, errors[-2000:]
        away = [line for line in out.splitlines() if "is not answering" in line]
        back = [line for line in out.splitlines() if "answers again" in line]
        assert len(away) == 1 and len(back) == 1, out[-3000:]
        assert "1 broker outage(s)" in " ".join(errors.split())
        assert_once_each(client, case)
        assert_store_replays_offline(labelled_store(store_uri, case), case)
    finally:
        if consumer is not None and consumer.poll() is None:
            consumer.kill()
        server.kill()
