"""An analyst's decision reaches the online store as an `analyst` label; a chargeback
overrides it and it never overrides a chargeback; the queue's metrics count it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudctl.alerts.queue import OPEN, queue_frame, queue_metrics
from fraudctl.alerts.reasons import RawColumns, alerts_from_decisions, model_reasons
from fraudctl.alerts.review import record_decision
from fraudctl.features.online import open_store
from fraudctl.features.store import Transaction
from fraudctl.rules.decide import decide_batch
from fraudctl.rules.ruleset import Rule, RuleSet
from fraudctl.rules.syntax import parse
from tests.alerts.conftest import flushed
from tests.alerts.test_store import DAY, T0, alert, decision


@pytest.fixture(params=["sqlite", "redis"])
def online(request, tmp_path):
    uri = (
        f"sqlite:///{tmp_path / 'online.db'}"
        if request.param == "sqlite"
        else flushed(request.getfixturevalue("redis_uri"))
    )
    store = open_store(uri)
    store.append(
        [Transaction(tx, T0 + k, 1000, {"customer": "c1"}) for k, tx in enumerate(["t1", "t2"])]
    )
    return store


def labels(store) -> list[tuple[int, int]]:
    """(labelled, fraud) of c1's events, oldest first, as the history features read them:
    the most trusted label known (the store keeps each source's, fraudctl.features.kernel)."""
    from fraudctl.features.kernel import label_sources

    events, _ = store.window([("customer", "c1", T0 - 1, T0 + 10)])[0]
    known, fraud, _, _ = label_sources(events.labelled, events.fraud)
    return list(zip(known.tolist(), fraud.tolist(), strict=True))


def sources(store) -> list[tuple[int, int]]:
    """The events' label bits as stored: (labelled, fraud), bit 0 chargeback, bit 1 analyst."""
    events, _ = store.window([("customer", "c1", T0 - 1, T0 + 10)])[0]
    return list(zip(events.labelled.tolist(), events.fraud.tolist(), strict=True))


def test_a_decision_becomes_an_analyst_label_and_a_chargeback_overrides_it(alerts, online):
    alerts.add([alert("t1"), alert("t2")])
    assert record_decision(alerts, "t1", "ana", "escalate", online=online).labelled is None
    assert labels(online) == [(0, 0), (0, 0)]  # an escalation is no label
    assert record_decision(alerts, "t1", "ana", "fraud", online=online).labelled is True
    assert labels(online) == [(1, 1), (0, 0)]
    record_decision(alerts, "t1", "bo", "legitimate", "changed my mind", online=online)
    assert labels(online) == [(1, 0), (0, 0)]  # the analyst's latest word
    assert online.label("t1", 1, source="chargeback")
    assert labels(online) == [(1, 1), (0, 0)]
    record_decision(alerts, "t1", "ana", "legitimate", online=online)
    assert labels(online) == [(1, 1), (0, 0)]  # the chargeback stays
    assert sources(online) == [(3, 1), (0, 0)]  # and the analyst's word beside it
    assert [d.outcome for d in alerts.decisions(["t1"])] == [
        "escalate",
        "fraud",
        "legitimate",
        "legitimate",
    ]
    with pytest.raises(ValueError, match="unknown label source 'rumour'"):
        online.label("t2", 1, source="rumour")


def test_an_analyst_never_overrides_a_label_loaded_with_the_history(online):
    online.label("t2", 0)  # the default source: what `features labels` and POST /labels send
    assert not online.label("t3", 1, source="analyst")  # never scored: reported, not kept
    assert online.label("t2", 1, source="analyst")
    assert labels(online) == [(0, 0), (1, 0)]
    assert sources(online) == [(0, 0), (3, 2)]  # kept for features that read analysts apart


def test_a_decision_for_a_transaction_the_online_store_never_saw(alerts, online):
    alerts.add([alert("elsewhere")])
    recorded = record_decision(alerts, "elsewhere", " ana ", "fraud", " note ", online=online)
    assert recorded.labelled is False
    assert recorded.decision.analyst == "ana" and recorded.decision.note == "note"
    assert record_decision(alerts, "elsewhere", "ana", "legitimate").labelled is None


def test_queue_metrics():
    alerts = [
        alert("a", T0, 0.9, amount=10.0),
        alert("b", T0 + 1, 0.5, amount=900.0),
        alert("c", T0 + DAY, 0.7, amount=None, rule="velocity"),
        alert("d", T0 + DAY + 1, 0.99, amount=50.0),
    ]
    created = {a.transaction_id: a.created_ms for a in alerts}
    decisions = [
        decision("a", "escalate", created["a"] + 60_000),
        decision("a", "fraud", created["a"] + 10 * 60_000),
        decision("b", "legitimate", created["b"] + 30 * 60_000),
        decision("c", "fraud", created["c"] + 20 * 60_000),
        decision("c", "legitimate", created["c"] + 90 * 60_000),  # not a new first decision
        decision("d", "escalate", created["d"] + 60_000),
        decision("zzz", "fraud", 0),  # another queue's: not counted
    ]
    metrics = queue_metrics(alerts, decisions)
    assert (metrics.alerts, metrics.reviewed, metrics.escalated, metrics.fraud) == (4, 3, 1, 1)
    assert metrics.share_reviewed == 0.75
    assert metrics.precision == pytest.approx(1 / 3)
    assert metrics.median_minutes_to_decision == pytest.approx(20.0)
    assert metrics.per_day[["alerts", "reviewed", "fraud"]].to_numpy().tolist() == [
        [2, 2, 1],
        [2, 1, 0],
    ]
    empty = queue_metrics([], [])
    assert empty.share_reviewed is None and empty.precision is None
    assert empty.median_minutes_to_decision is None

    by_risk = queue_frame(alerts, decisions[:3], sort="risk")
    assert by_risk["transaction_id"].tolist() == ["d", "c", "a", "b"]  # open first
    assert by_risk["state"].tolist() == [OPEN, OPEN, "fraud", "legitimate"]
    assert by_risk["reason"].tolist() == ["model", "velocity", "model", "model"]
    by_amount = queue_frame(alerts, [], sort="amount")
    assert by_amount["transaction_id"].tolist() == ["b", "d", "a", "c"]  # no amount: last
    assert queue_frame([], []).empty


def test_alerts_from_a_decided_batch_carry_their_reasons():
    raw = pd.DataFrame(
        {
            "transaction_id": [101, 102, 103, 104],
            "timestamp": pd.to_datetime(
                ["2026-05-28 10:00", "2026-05-28 11:00", "2026-05-29 09:00", "2026-05-29 10:00"],
                utc=True,
            ),
            "customer_id": [7, 8, 7, 9],
            "amount": [5.0, 2500.0, 40.0, np.nan],
            "merchant_category": ["food", "travel", "gambling", "food"],
        }
    )
    rules = RuleSet.of(
        [
            Rule(
                "casino",
                parse("merchant_category == 'gambling'"),
                "block",
                5,
                "merchant_category == 'gambling'",
            ),
            Rule("known", parse("customer_id in [8]"), "allow", 9, "customer_id in [8]"),
        ]
    )
    decisions = decide_batch(rules, raw, [0.2, 0.95, 0.1, 0.9], threshold=0.5)
    asked = []

    def explain(positions):
        asked.append(positions.tolist())
        contributions = np.array([[0.1, -2.0, 0.5]] * len(positions))
        features = pd.DataFrame({"amount": [1.0] * len(positions), "hour": 3, "night": 1})
        return model_reasons(contributions, features, top=2)

    columns = RawColumns(time="timestamp", amount="amount", entities={"customer": "customer_id"})
    made = alerts_from_decisions(raw, decisions, columns, rules, explain, now_ms=T0)
    assert [(a.transaction_id, a.decision, a.rule) for a in made] == [
        ("103", "block", "casino"),
        ("104", "review", None),
    ]  # 102 is over the threshold, but an allow rule outranks the model
    assert asked == [[3]]  # SHAP for the model's alerts only
    casino, model = made
    assert casino.reasons == [
        {"rule": "casino", "condition": "merchant_category == 'gambling'", "action": "block"}
    ]
    assert [r["feature"] for r in model.reasons] == ["hour", "night"]
    assert model.reasons[0]["contribution"] == -2.0
    assert model.amount is None and model.entities == {"customer": "9"}
    assert casino.time_ms == int(pd.Timestamp("2026-05-29 09:00", tz="UTC").value // 1_000_000)
    assert casino.row["merchant_category"] == "gambling" and casino.created_ms == T0
    assert (
        alerts_from_decisions(
            raw.iloc[:1], decide_batch(rules, raw.iloc[:1], [0.1], 0.5), columns, rules
        )
        == []
    )
