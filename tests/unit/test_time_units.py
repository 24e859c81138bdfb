"""The one conversion from a numeric clock to time, and the rule that names a wrong unit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraudctl.data.clock import DAY, clock_note, plausible_units
from fraudctl.data.schema import seconds_of
from fraudctl.durations import TIME_UNITS, clock_seconds, parse_duration, unit_seconds
from fraudctl.features.online import time_ms_of
from fraudctl.features.transform import time_to_ms
from fraudctl.model.fitting import day_numbers

units = st.sampled_from(list(TIME_UNITS))
FACTORS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@st.composite
def whole_readings(draw: st.DrawFn) -> tuple[str, list[int]]:
    """A unit and whole readings whose milliseconds a float64 holds exactly (2**52 ms is
    142,000 years: every real clock)."""
    unit = draw(units)
    bound = min(2**52 // FACTORS_MS[unit], 10**15)
    return unit, draw(st.lists(st.integers(-bound, bound), min_size=1, max_size=50))


@given(whole_readings())
def test_whole_readings_become_exact_milliseconds_through_every_door(drawn):
    unit, values = drawn
    """The split (seconds_of), the features (time_to_ms) and the online store (time_ms_of)
    read a clock through the same conversion: integer readings land on exact milliseconds."""
    series = pd.Series(values, dtype="int64")
    expected = np.asarray(values, dtype=np.int64) * FACTORS_MS[unit]
    np.testing.assert_array_equal(time_to_ms(series, "numeric", unit), expected)
    assert [time_ms_of(v, "numeric", unit) for v in values] == expected.tolist()
    np.testing.assert_array_equal(seconds_of(series, unit), clock_seconds(values, unit))


@given(units, st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=2, max_size=50))
def test_the_conversion_keeps_order_and_scales_by_the_unit(unit, values):
    seconds = clock_seconds(values, unit)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(seconds[order]) >= 0)  # a clock's order is never changed
    np.testing.assert_allclose(seconds, np.asarray(values) * unit_seconds(unit), rtol=1e-15)
    # the offline and online paths agree on fractional readings too
    offline = time_to_ms(pd.Series(values), "numeric", unit)
    assert [time_ms_of(v, "numeric", unit) for v in values] == offline.tolist()


@given(st.integers(0, 10**6))
def test_one_day_is_the_same_instant_in_every_unit(day):
    instants = {
        time_ms_of(day * round(DAY / unit_seconds(unit)), "numeric", unit) for unit in TIME_UNITS
    }
    assert instants == {day * 86_400_000}


@given(st.floats(0, 1e12, allow_nan=False))
def test_seconds_are_the_old_reading_bit_for_bit(value):
    """The default unit changes nothing: the same bits as before units existed."""
    series = pd.Series([value])
    assert seconds_of(series)[0] == np.float64(value)
    assert time_to_ms(series, "numeric")[0] == np.round(np.float64(value) * 1000)


def test_an_unknown_unit_is_a_clear_error():
    with pytest.raises(ValueError, match="time unit 'w' is not one of ms, s, m, h, d"):
        clock_seconds([1.0], "w")


def test_card_precision_days_follow_the_unit():
    hours = pd.Series([0, 5, 23, 24, 47, 48, 100])
    assert day_numbers(hours, "h").tolist() == [0, 0, 0, 1, 1, 2, 4]
    assert day_numbers(pd.Series([0, 1, 1, 7]), "d").tolist() == [0, 1, 1, 7]
    assert day_numbers(pd.Series([0.0, 86_399.0, 86_400.0])).tolist() == [0, 0, 1]


# --- the rule: a clock shorter than what the run measures on it ------------------------------


def test_a_day_clock_read_as_seconds_is_named_with_the_unit_to_set():
    note = clock_note("step", 179.0, "s", {"split.gap (7d)": parse_duration("7d")})
    assert note is not None
    assert "spans 179 seconds (2.98 minutes)" in note and "shorter than split.gap (7d)" in note
    assert "set data.schema.time_unit: d (then it spans 179 days)" in note
    assert "if hours, h (7.46 days)" in note  # 179 hours also covers a week


def test_a_plausible_clock_has_no_note():
    assert clock_note("step", 179 * DAY, "d", {"split.gap (7d)": 7 * DAY}) is None
    assert clock_note("Time", 172_792.0, "s", {}) is None  # the ULB table: two days
    assert clock_note("Time", 60.0, "s", {}) is None  # nothing measured on it: any span


def test_milliseconds_read_as_seconds_are_too_long_for_any_log():
    note = clock_note("ts", 90 * DAY * 1000, "s", {})
    assert note is not None and "longer than any payment log" in note
    assert "set data.schema.time_unit: ms (then it spans 90 days)" in note


def test_suggested_units_cover_the_longest_duration_and_stay_under_a_century():
    assert plausible_units(179.0, "s", 7 * DAY) == ["d", "h"]
    assert plausible_units(179.0, "s", 30 * DAY) == ["d"]
    assert plausible_units(179.0 * 86_400, "s", DAY) == ["m"]


# --- the unit inside the saved transform ---------------------------------------------------


def _transform(unit: str = "s"):
    from fraudctl.config import FeaturesParams
    from fraudctl.features.transform import FeatureTransform

    frame = pd.DataFrame({"t": [0, 1, 2], "c": [1, 1, 2], "x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    params = FeaturesParams.model_validate({"entities": {"card": {"windows": ["7d"]}}})
    return FeatureTransform.fit(
        frame,
        time="t",
        target="y",
        amount="x",
        features=["x"],
        categorical=[],
        entities={"card": "c"},
        params=params,
        time_unit=unit,
    )


def test_a_transform_saved_before_units_reads_as_seconds():
    from fraudctl.features.transform import FeatureTransform

    seconds = _transform()
    saved = seconds.to_dict()
    assert "time_unit" not in saved  # the bytes (and digest) of every model saved before
    assert FeatureTransform.from_dict(saved).time_unit == "s"
    days = _transform("d")
    assert days.to_dict()["time_unit"] == "d" and days.digest() != seconds.digest()
    assert FeatureTransform.from_dict(days.to_dict()).digest() == days.digest()
    with pytest.raises(ValueError, match="time_unit 'w'"):
        FeatureTransform.from_dict({**saved, "time_unit": "w"})
    with pytest.raises(ValueError, match="a datetime clock has no time_unit"):
        FeatureTransform.from_dict({**saved, "time_kind": "datetime", "time_unit": "d"})


def test_a_day_transform_refuses_calendar_features():
    from fraudctl.config import FeaturesParams
    from fraudctl.errors import ConfigError
    from fraudctl.features.transform import FeatureTransform

    frame = pd.DataFrame({"t": [0, 1], "x": [1.0, 2.0], "y": [0, 1]})
    with pytest.raises(ConfigError, match=r"features\.calendar: night need the time of day"):
        FeatureTransform.fit(
            frame,
            time="t",
            target="y",
            amount=None,
            features=["x"],
            categorical=[],
            entities={},
            params=FeaturesParams(calendar=["night"]),
            time_unit="d",
        )
