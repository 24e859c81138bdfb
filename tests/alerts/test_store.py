"""The alert store on SQLite and a real Redis: idempotent alerts, append-only decisions,
day queries, and one-line errors for a store that cannot be opened."""

from __future__ import annotations

import math
import sqlite3

import pytest

from fraudctl.alerts.queue import current_state
from fraudctl.alerts.records import Alert, AnalystDecision
from fraudctl.alerts.store import day_bounds, open_alerts
from fraudctl.errors import ArtifactError, ConfigError, DataError
from tests.alerts.conftest import flushed

DAY = 86_400_000
T0 = 1_780_000_000_000  # 2026-05-28 UTC


def alert(tx: str, at: int = T0, probability: float = 0.9, **extra) -> Alert:
    return Alert(
        transaction_id=tx,
        time_ms=at,
        probability=probability,
        decision=extra.pop("decision", "review"),
        amount=extra.pop("amount", 12.5),
        entities={"customer": "c1", "terminal": "t9"},
        reasons=[{"feature": "amount", "value": 12.5, "contribution": 0.7}],
        row={"amount": 12.5, "merchant_category": "gambling"},
        created_ms=at + 1000,
        **extra,
    )


def decision(tx: str, outcome: str, at: int, who: str = "ana", note: str = "") -> AnalystDecision:
    return AnalystDecision(tx, who, outcome, at, note)


def test_adding_an_alert_twice_keeps_the_first(alerts):
    assert alerts.add([alert("t1"), alert("t2", T0 + 5)]) == 2
    assert alerts.add([alert("t1", probability=0.1), alert("t3", T0 + DAY)]) == 1
    assert alerts.count() == 3
    assert alerts.alert("t1").probability == 0.9  # a redelivery never replaces it
    assert alerts.alert("t1") == alert("t1")  # every field survives the round trip
    assert alerts.alert("nope") is None
    assert alerts.add([]) == 0


def test_alerts_by_day(alerts):
    alerts.add([alert("late", T0 + DAY - 1), alert("next", T0 + DAY), alert("a", T0)])
    days = alerts.days()
    assert sum(days.values()) == 3
    for day, count in days.items():
        since, until = day_bounds(day)
        found = alerts.alerts(since, until)
        assert len(found) == count
        assert [a.time_ms for a in found] == sorted(a.time_ms for a in found)
    assert [a.transaction_id for a in alerts.alerts(T0, T0 + DAY)] == ["a", "late"]


def test_decisions_are_appended_and_the_latest_is_the_state(alerts):
    alerts.add([alert("t1"), alert("t2")])
    alerts.decide(decision("t1", "escalate", T0 + 10, note="call the customer"))
    alerts.decide(decision("t1", "fraud", T0 + 20, who="bo"))
    alerts.decide(decision("t2", "legitimate", T0 + 15))
    alerts.decide(decision("t1", "legitimate", T0 + 30, note="customer confirmed"))
    history = [(d.transaction_id, d.outcome) for d in alerts.decisions()]
    assert history == [
        ("t1", "escalate"),
        ("t1", "fraud"),
        ("t2", "legitimate"),
        ("t1", "legitimate"),
    ]  # the order they were made in, whatever times they carry
    mine = alerts.decisions(["t1"])
    assert [d.outcome for d in mine] == ["escalate", "fraud", "legitimate"]
    assert mine[0].note == "call the customer" and mine[1].analyst == "bo"
    assert {tx: d.outcome for tx, d in current_state(alerts.decisions()).items()} == {
        "t1": "legitimate",
        "t2": "legitimate",
    }


def test_a_decision_needs_a_queued_alert(alerts):
    with pytest.raises(DataError, match="no alert for transaction 'ghost'"):
        alerts.decide(decision("ghost", "fraud", T0))
    assert alerts.decisions() == []


def test_sqlite_refuses_to_rewrite_a_decision(tmp_path):
    store = open_alerts(f"sqlite:///{tmp_path / 'alerts.db'}")
    store.add([alert("t1")])
    store.decide(decision("t1", "fraud", T0))
    db = sqlite3.connect(tmp_path / "alerts.db")
    for statement in ("UPDATE decisions SET outcome = 'legitimate'", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="decisions are append-only"):
            db.execute(statement)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO decisions (transaction_id, analyst, outcome, at_ms, note) "
            "VALUES ('t1', 'x', 'maybe', 0, '')"
        )
    assert [d.outcome for d in store.decisions()] == ["fraud"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: decision("t", "maybe", 0), "outcome 'maybe'"),
        (lambda: decision("t", "fraud", 0, who="  "), "the analyst's name"),
        (lambda: decision("t", "fraud", 0, note="x" * 2001), "at most 2000"),
        (lambda: alert("t", decision="allow"), "decision 'allow' is not an alert"),
        (lambda: alert("t", probability=math.nan), "probability nan"),
        (lambda: alert(""), "needs a transaction_id"),
    ],
)
def test_records_refuse_what_cannot_be_queued(make, message):
    with pytest.raises(DataError, match=message):
        make()


def test_stores_that_cannot_be_opened_say_so_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"expected sqlite:///path/to/alerts\.db or redis://"):
        open_alerts("postgres://db/alerts")
    with pytest.raises(ArtifactError, match="is a folder"):
        open_alerts(f"sqlite:///{tmp_path}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArtifactError, match="not an alert store"):
        open_alerts(f"sqlite:///{junk}")
    with (
        socket_port() as port,
        pytest.raises(ArtifactError, match=f"alert store redis://127.0.0.1:{port}/0: "),
    ):
        open_alerts(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(ConfigError, match="expected YYYY-MM-DD"):
        day_bounds("28/05/2026")


def socket_port():
    """A port nothing listens on (bound, never listening, for the block)."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def bound():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            yield s.getsockname()[1]

    return bound()


def test_the_redis_queue_survives_rebuilding_the_online_store(redis_uri):
    """`features materialize` clears the online store's prefix: the queue has its own."""
    from fraudctl.features.online import open_store

    queue = open_alerts(flushed(redis_uri))
    queue.add([alert("t1")])
    queue.decide(decision("t1", "fraud", T0))
    open_store(redis_uri).clear()
    assert queue.count() == 1 and len(queue.decisions()) == 1
