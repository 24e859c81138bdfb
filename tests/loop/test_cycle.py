"""One cycle a day, by hand: the first retrain makes a champion, a scheduled retrain makes
a challenger that is compared with it on the same labelled rows and promoted by alias,
labelled days are monitored, and a failed step is recorded while the champion serves on."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from fraudctl.config import load_params
from fraudctl.loop.cycle import Loop
from tests.loop.conftest import loop_params


def _run(runner, *args):  # type: ignore[no-untyped-def]
    from fraudctl.cli import app

    result = runner.invoke(app, list(args))
    return result


@pytest.mark.slow
def test_days_of_the_loop_train_compare_promote_and_monitor(runner, tmp_path, loop_env):
    params_file = loop_params(
        tmp_path, policy="schedule", retrain_every_days=2, promote_margin=-1.0
    )
    params = str(params_file)
    assert _run(runner, "simulate", "--days", "9", "--params", params).exit_code == 0
    for day in range(9, 14):
        assert _run(runner, "simulate", "--day", str(day), "--params", params).exit_code == 0
        ran = _run(runner, "cycle", "run", "--day", str(day), "--params", params)
        assert ran.exit_code == 0, ran.output
    loop = Loop(load_params(params_file))
    entries = loop.decisions()
    by_day = {(e["day"], e["step"]): e for e in entries}
    assert by_day[(9, "decide")]["reason"] == "no champion yet"
    assert by_day[(9, "retrain")]["outcome"] == "trained"
    # retrain only registers a challenger; compare, the one place promotion is decided,
    # makes the first model champion
    assert "registered as challenger" in by_day[(9, "retrain")]["reason"]
    assert by_day[(9, "compare")]["outcome"] == "promoted"
    assert "no champion yet" in by_day[(9, "compare")]["reason"]
    assert by_day[(10, "score")]["outcome"] == "ok" and by_day[(10, "score")]["champion"] == "1"
    assert by_day[(11, "decide")]["outcome"] == "retrain"  # the schedule: two days on
    promoted = [
        e for e in entries if e["step"] == "compare" and e["outcome"] == "promoted" and e["day"] > 9
    ]
    assert promoted, [e for e in entries if e["step"] == "compare"]
    first = promoted[0]
    # one set of rows for both models, named by its digest, and both numbers on record
    assert first["rows_digest"] and "champion_card_precision" in first
    assert "challenger_card_precision" in first and first["champion"] == "1"
    assert loop.version("champion") == promoted[-1]["challenger"]
    # every step of every day is on record, in MLflow too
    assert {(d, s) for d in range(10, 14) for s in ("score", "drift", "decide")} <= set(by_day)
    client = mlflow.MlflowClient(load_params(params_file).tracking.uri)
    experiment = client.get_experiment_by_name("fraud-continuous")
    runs = client.search_runs([experiment.experiment_id], max_results=500)
    assert {"compare", "retrain", "score"} <= {r.data.tags["step"] for r in runs}
    # scored days whose labels are out are monitored with the model that scored them
    monitoring = pd.read_csv(loop.monitoring_file)
    assert list(monitoring["day"]) == [10, 11]
    assert set(monitoring.columns) >= {"card_precision", "pr_auc", "alerts", "money_caught"}
    assert monitoring.loc[0, "model_version"] == 1

    # A step that fails is recorded with its reason, and the champion does not move.
    champion = loop.version("champion")
    failed = _run(runner, "cycle", "score", "--day", "20", "--params", params)
    assert failed.exit_code == 2 and "no transactions yet" in failed.output
    last = json.loads(loop.decisions_file.read_text().splitlines()[-1])
    assert last["step"] == "score" and last["outcome"] == "failed"
    assert "no transactions yet" in last["reason"]
    assert loop.version("champion") == champion


CARD_TESTING = {
    "name": "card_testing",
    "when": "customer_count_1d >= 5 and amount < 5 and merchant_category == 'online'",
    "action": "review",
}


@pytest.mark.slow
def test_a_rule_is_released_with_the_champion_and_analysts_label_its_alerts(
    runner, tmp_path, loop_env
):
    """A rule written on the day the new pattern starts: `decide` sees params' rules are not
    the champion's, `retrain` registers the champion's estimator with them, `compare`
    promotes it as a rule change; the next day's alerts carry the rule, the analysts settle
    them a day later, and the next retrain learns from their labels."""
    import yaml

    from fraudctl.alerts.store import open_alerts
    from fraudctl.loop.labels import labelled_days

    analysts = {"reviews_per_day": 40, "accuracy": 1.0, "delay_days": 1}
    params_file = loop_params(
        tmp_path, policy="schedule", retrain_every_days=3, promote_margin=-1.0, analysts=analysts
    )
    params = str(params_file)
    assert _run(runner, "simulate", "--days", "9", "--params", params).exit_code == 0
    for day in range(9, 16):
        if day == 12:  # the change day: the team writes the rule
            raw = yaml.safe_load(params_file.read_text())
            raw["rules"] = [CARD_TESTING]
            params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
        assert _run(runner, "simulate", "--day", str(day), "--params", params).exit_code == 0
        ran = _run(runner, "cycle", "run", "--day", str(day), "--params", params)
        assert ran.exit_code == 0, ran.output
    loop = Loop(load_params(params_file))
    by_day = {(e["day"], e["step"]): e for e in loop.decisions()}
    assert by_day[(12, "decide")]["outcome"] == "rules"
    released = by_day[(12, "retrain")]
    assert released["outcome"] == "released" and released["rules"] == "card_testing"
    assert by_day[(12, "compare")]["outcome"] == "promoted"
    assert "a rule change" in by_day[(12, "compare")]["reason"]
    champion = loop.model(loop.version("champion"))
    assert champion.rules.names == ["card_testing"]
    # its terminal risk features count the analysts' labels a day on (the example's params)
    assert champion.transform.analyst == "analyst_label"
    roles = {c.name: c.role for c in champion.contract.raw_columns}
    assert roles["analyst_label"] == "label" and "analyst_label" not in champion.features

    # from day 13 the champion's rule decides: its alerts are queued and settled
    assert by_day[(13, "score")]["by_rule"] > 0
    scored = pd.read_parquet(loop.scores_file(13))
    assert (scored["rule"] == "card_testing").sum() == by_day[(13, "score")]["by_rule"]
    store = open_alerts(loop.world.alerts_uri)
    ruled = [a for a in store.alerts(0, 2**62) if a.rule == "card_testing"]
    settled = {d.transaction_id: d for d in store.decisions([a.transaction_id for a in ruled])}
    assert settled and all(d.outcome == "fraud" for d in settled.values())  # card testing
    # analysts' days extend what the loop knows beyond the chargebacks
    assert labelled_days(loop.world, 15)[-1] == 14
    trained = [e for e in loop.decisions() if e["outcome"] == "trained" and e["day"] > 12]
    assert trained and trained[-1]["labels_analyst"] > 0
