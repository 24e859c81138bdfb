"""The simulated feed: deterministic, labels only after their delay, and the change of the
world where and when the params say."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.config import load_params
from fraudctl.loop.world import TARGET, World
from tests.loop.conftest import loop_params


def _run(runner, *args):  # type: ignore[no-untyped-def]
    from fraudctl.cli import app

    return runner.invoke(app, list(args))


def test_a_day_is_published_without_labels_and_labelled_after_the_delay(runner, tmp_path, loop_env):
    params_file = loop_params(tmp_path)
    result = _run(runner, "simulate", "--days", "5", "--params", str(params_file))
    assert result.exit_code == 0, result.output
    world = World(load_params(params_file).continuous, 42)
    log = pd.read_parquet(world.log_file(4))
    assert TARGET not in log.columns and len(log) > 100
    assert log["timestamp"].dt.date.eq(world.date(4)).all()
    # day 4 released the labels of day 2 (two days late), and nothing later
    assert world.labelled_days(4) == [0, 1, 2]
    labels = pd.read_parquet(world.labels_file(2))
    assert set(labels["transaction_id"]) == set(
        pd.read_parquet(world.log_file(2))["transaction_id"]
    )


def test_the_feed_is_the_same_every_time_and_by_date(runner, tmp_path, loop_env):
    params_file = loop_params(tmp_path)
    world = World(load_params(params_file).continuous, 42)
    _run(runner, "simulate", "--day", "3", "--params", str(params_file))
    first = pd.read_parquet(world.log_file(3))
    world.log_file(3).unlink()
    result = _run(runner, "simulate", "--date", str(world.date(3)), "--params", str(params_file))
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(first, pd.read_parquet(world.log_file(3)))


@settings(deadline=None)
@given(day=st.integers(0, 29))
def test_card_testing_appears_from_the_change_day_only(tmp_path_factory, day):
    params_file = loop_params(tmp_path_factory.mktemp("world"))
    world = World(load_params(params_file).continuous, 42)
    frame = world.draw(day)
    testing = frame[frame["terminal_id"] >= world.settings.n_terminals]
    if day < world.settings.change_day:
        assert testing.empty
    else:
        assert not testing.empty and testing[TARGET].eq(1).all()
        assert testing["amount"].between(0.5, 4.0).all()
    assert frame["transaction_id"].is_unique


def test_a_day_outside_the_world_is_refused(runner, tmp_path, loop_env):
    params_file = loop_params(tmp_path)
    result = _run(runner, "simulate", "--day", "30", "--params", str(params_file))
    assert result.exit_code == 2
    assert "days 0 to 29" in result.output
    result = _run(runner, "cycle", "score", "--params", str(params_file))
    assert result.exit_code == 2 and "--day N or --date" in result.output


def _queue(world, day, rules=3, model=10):  # type: ignore[no-untyped-def]
    """Alerts on day ``day`` as the loop's score step queues them: ``rules`` sent by a rule
    (low scores), ``model`` by the threshold; and the day's scores file (it was scored)."""
    from fraudctl.alerts.records import Alert
    from fraudctl.alerts.store import open_alerts

    frame = world.draw(day)
    alerts = [
        Alert(
            transaction_id=str(tx),
            time_ms=int(stamp.value // 1_000_000),
            probability=0.01 * (k + 1),
            decision="review",
            rule="burst" if k < rules else None,
        )
        for k, (tx, stamp) in enumerate(
            zip(frame["transaction_id"][: rules + model], frame["timestamp"], strict=False)
        )
    ]
    open_alerts(world.alerts_uri).add(alerts)
    world.scores_file(day).parent.mkdir(parents=True, exist_ok=True)
    frame[["transaction_id"]].to_parquet(world.scores_file(day))
    return frame.set_index("transaction_id")[TARGET]


def test_analysts_settle_the_top_alerts_a_day_late_rule_alerts_first(tmp_path, loop_env):
    from fraudctl.alerts.store import open_alerts
    from fraudctl.loop.labels import analyst_labels, labelled_log
    from fraudctl.loop.world import ANALYST

    analysts = {"reviews_per_day": 5, "accuracy": 1.0, "delay_days": 1}
    world = World(load_params(loop_params(tmp_path, analysts=analysts)).continuous, 42)
    for day in range(4):
        world.write_day(day)
    truth = _queue(world, 3)
    assert world.review(2) == 0  # a day the loop did not score has no alerts
    published = world.write_day(4)  # day 4 settles day 3's alerts
    assert (published.reviewed, published.reviewed_day) == (5, 3)
    decisions = open_alerts(world.alerts_uri).decisions()
    assert {d.analyst for d in decisions} == {ANALYST}
    assert {d.at_ms for d in decisions} == {world.start_ms(4)}
    store = open_alerts(world.alerts_uri)
    by_rule = {a.transaction_id for a in store.alerts(0, 2**62) if a.rule}
    reviewed = [d.transaction_id for d in decisions]
    assert by_rule <= set(reviewed)  # the rule's alerts first, then the riskiest
    for d in decisions:
        assert d.outcome == ("fraud" if truth.loc[int(d.transaction_id)] else "legitimate")
    assert world.write_day(4).reviewed == 0  # replayed: nothing settled twice

    # known on day 4, not on day 3; a chargeback, once out, overrides the analyst
    assert analyst_labels(world, [3], today=3).empty
    assert len(analyst_labels(world, [3], today=4)) == 5
    log = labelled_log(world, [3], today=4)
    assert log["label_source"].value_counts().to_dict() == {"none": len(log) - 5, "analyst": 5}
    world.write_day(5)  # day 3's chargebacks, two days late
    later = labelled_log(world, [3], today=5)
    assert set(later["label_source"]) == {"chargeback"}
    assert later.set_index("transaction_id")[TARGET].equals(truth.loc[later["transaction_id"]])


def test_analysts_are_wrong_as_often_as_their_accuracy_says(tmp_path, loop_env):
    from fraudctl.alerts.store import open_alerts

    analysts = {"reviews_per_day": 40, "accuracy": 0.75, "delay_days": 2}
    world = World(load_params(loop_params(tmp_path, analysts=analysts)).continuous, 42)
    truth = _queue(world, 5, rules=0, model=40)
    assert world.write_day(7).reviewed == 40
    decisions = open_alerts(world.alerts_uri).decisions()
    right = [
        d.outcome == ("fraud" if truth.loc[int(d.transaction_id)] else "legitimate")
        for d in decisions
    ]
    assert 0.5 < sum(right) / len(right) < 0.95
