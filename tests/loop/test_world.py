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
