"""The stream consumer decides with the model's own rules, as every door does: the stream
case's model re-saved with two rules, its transactions streamed (some twice), and each
decision on the decisions stream equal to the model's in-process decision with the same
history."""

from __future__ import annotations

import numpy as np
import pytest

from tests.stream.conftest import StreamCase, consume, decisions, load_store, publish


@pytest.fixture(scope="module")
def rules_case(case: StreamCase, tmp_path_factory: pytest.TempPathFactory) -> StreamCase:
    from fraudctl.config import RuleParams
    from fraudctl.model.bundle import load_model
    from fraudctl.model.saving import resave_with_rules
    from fraudctl.rules.ruleset import RuleSet

    big = float(np.quantile(case.stream["amount"], 0.9))
    category = str(case.stream["merchant_category"].mode()[0])
    rules = RuleSet.from_params(
        [
            RuleParams(name="huge_amount", when=f"amount > {big}", action="block", priority=1),
            RuleParams(
                name="busy_category",
                when=f"merchant_category == '{category}' and amount > {big / 3}",
                action="review",
                priority=2,
            ),
        ]
    )
    model_dir = tmp_path_factory.mktemp("stream-rules") / "model"
    resave_with_rules(case.model_dir, model_dir, rules)
    return StreamCase(model_dir, load_model(model_dir).transform, case.history, case.stream)


def test_the_consumer_decides_with_the_models_rules(redis_server, client, rules_case, tmp_path):
    from fraudctl.model.bundle import load_model

    model = load_model(rules_case.model_dir)
    raw = rules_case.stream.drop(columns=["is_fraud"])
    expected = model.decide(raw, rules_case.history)
    assert {"huge_amount", "busy_category", None} <= set(expected.rule)

    store_uri = f"sqlite:///{tmp_path / 'online.db'}"
    load_store(store_uri, rules_case)
    publish(client, rules_case.stream)
    publish(client, rules_case.stream.iloc[::13])  # the producer's retries
    alerts_uri = f"sqlite:///{tmp_path / 'alerts.db'}"
    consume(redis_server, rules_case, store_uri, batch_size=64, alert_store=alerts_uri)

    found = decisions(client)
    ids = raw["transaction_id"].tolist()
    assert set(found) == set(ids)
    assert all(len(found[tx]) == 1 for tx in ids)  # a retry never decides twice
    rule = np.array([found[tx][0]["rule"] for tx in ids], dtype=object)
    decision = np.array([found[tx][0]["decision"] for tx in ids], dtype=object)
    probability = np.array([found[tx][0]["probability"] for tx in ids])
    np.testing.assert_array_equal(rule, expected.rule)
    edge = np.abs(expected.probability - model.threshold) < 1e-9
    np.testing.assert_array_equal(decision[~edge], expected.decision[~edge])
    np.testing.assert_allclose(probability, expected.probability, rtol=0, atol=1e-9)

    # every alert is in the analysts' queue once, with its reasons
    from fraudctl.alerts.store import open_alerts

    queued = {a.transaction_id: a for a in open_alerts(alerts_uri).alerts(0, 2**62)}
    ids_array = np.array(ids, dtype=object)
    assert set(queued) == set(ids_array[expected.alert])
    for tx, alert in queued.items():
        k = ids.index(tx)
        assert (alert.decision, alert.rule) == (decision[k], rule[k])
        assert alert.reasons and alert.row["amount"] == raw["amount"].iloc[k]
