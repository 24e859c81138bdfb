"""A numeric clock against its unit: its span in words, and whether that span can be right.

A log whose clock counts days, read as seconds (the default unit), is three minutes long:
nothing fails, but a ``7d`` gap swallows a split, every ``7d`` window holds the whole log
and card precision@k "per day" has one day. The rule here compares the clock's span, in
its unit, with the durations the run will measure on it (the split's gap, one day for the
per-day metric and the calendar, the feature windows): a log shorter than what it is
measured with is wrong for any log, whatever its size. A rule on rows per unit would not
be: a processor logs millions of payments a day, a shop a hundred. Beyond a century a
clock is too long for any payment log (milliseconds read as seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudctl.durations import DEFAULT_TIME_UNIT, TIME_UNITS, UNIT_NAMES, unit_seconds
from fraudctl.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from fraudctl.config import SplitParams
    from fraudctl.data.schema import Schema

DAY = 86_400.0
YEAR = 365.25 * DAY
LONGEST_LOG = 100 * YEAR
_REAL = (("years", YEAR), ("days", DAY), ("hours", 3600.0), ("minutes", 60.0))


def real_time(seconds: float) -> str:
    """``"2.98 minutes"``, ``"179 days"``: a span in the largest unit it fills."""
    for name, size in _REAL:
        if abs(seconds) >= size:
            return f"{seconds / size:,.3g} {name}"
    return f"{seconds:,.3g} seconds"


def span_text(seconds: float, unit: str) -> str:
    """A span as the clock counts it, with real time beside it when that reads differently:
    ``"179 seconds (2.98 minutes)"``, ``"179 days"``."""
    steps = f"{seconds / unit_seconds(unit):,.6g} {UNIT_NAMES[unit]}"
    real = real_time(seconds)
    return steps if real == steps else f"{steps} ({real})"


def clock_facts(column: str, seconds: float, unit: str | None) -> str:
    """``"the clock 'step', read in seconds (data.schema.time_unit: s), spans 179 seconds
    (2.98 minutes)"``; ``unit`` None for a datetime column."""
    if unit is None:
        return f"the clock {column!r} spans {real_time(seconds)}"
    return (
        f"the clock {column!r}, read in {UNIT_NAMES[unit]} (data.schema.time_unit: {unit}), "
        f"spans {span_text(seconds, unit)}"
    )


def plausible_units(seconds: float, unit: str, shortest: float) -> list[str]:
    """Units in which the same readings would span at least ``shortest`` and at most a
    century, coarsest first."""
    steps = seconds / unit_seconds(unit)
    return [
        other
        for other in reversed(TIME_UNITS)
        if other != unit and shortest <= steps * unit_seconds(other) <= LONGEST_LOG
    ]


def suggestion(seconds: float, unit: str, shortest: float) -> str:
    """What to set instead, e.g. ``"if it counts days, set data.schema.time_unit: d (then
    179 days); if hours, h (7.46 days)"``; empty when no unit fits."""
    steps = seconds / unit_seconds(unit)
    parts = []
    for other in plausible_units(seconds, unit, shortest):
        then = real_time(steps * unit_seconds(other))
        if not parts:
            parts.append(
                f"if it counts {UNIT_NAMES[other]}, set data.schema.time_unit: {other} "
                f"(then it spans {then})"
            )
        else:
            parts.append(f"if {UNIT_NAMES[other]}, {other} ({then})")
    return ", or ".join(parts)


def clock_note(column: str, seconds: float, unit: str, measures: dict[str, float]) -> str | None:
    """A note when a numeric clock's span (``seconds``, already through its unit) is shorter
    than a duration the run measures on it (``measures``: what -> seconds) or longer than a
    century; None when it is plausible."""
    longest = max(measures.values(), default=0.0)
    if seconds < longest:
        beaten = [what for what, length in measures.items() if seconds < length]
        hint = suggestion(seconds, unit, longest) or (
            "check data.schema.time_unit and the durations"
        )
        return f"{clock_facts(column, seconds, unit)}: shorter than {' and '.join(beaten)}; {hint}"
    if seconds > LONGEST_LOG:
        hint = suggestion(seconds, unit, longest) or "check data.schema.time_unit"
        return f"{clock_facts(column, seconds, unit)}: longer than any payment log; {hint}"
    return None


# --- what prepare and the folds check and say --------------------------------------------


def numeric_clock(times: pd.Series) -> bool:
    import pandas as pd

    return not pd.api.types.is_datetime64_any_dtype(times)


def check_unit(times: pd.Series, schema: Schema, source: str) -> None:
    """A unit is for a numeric clock: a datetime column carries its own."""
    if schema.time_unit != DEFAULT_TIME_UNIT and not numeric_clock(times):
        raise DataError(
            f"{source}: column {schema.time!r} holds datetimes, which carry their own unit; "
            f"data.schema.time_unit: {schema.time_unit} is for a numeric clock (a day or "
            "step number): remove it, or give the clock as numbers"
        )


def gap_clock(times: pd.Series, schema: Schema, gap: str, length: float) -> str:
    """What the clock spans, said beside a gap (``gap``: its key and value, ``length``:
    seconds) that emptied a split or a fold; with the unit to set when a numeric clock is
    shorter than the gap."""
    from fraudctl.data.schema import seconds_of

    seconds = seconds_of(times, schema.time_unit)
    span = float(seconds.max() - seconds.min()) if len(seconds) else 0.0
    if not numeric_clock(times):
        return clock_facts(schema.time, span, None)
    note = clock_note(schema.time, span, schema.time_unit, {gap: length})
    return note or clock_facts(schema.time, span, schema.time_unit)


def measured_durations(schema: Schema, split: SplitParams) -> dict[str, float]:
    """The durations this run measures on the clock that prepare knows of: the split's gap,
    and one day when entities are declared (card precision@k is counted per day)."""
    measures = {}
    if split.gap_seconds:
        measures[f"split.gap ({split.gap})"] = split.gap_seconds
    if schema.entities:
        measures["one day (card precision@k is counted per day)"] = DAY
    return measures


def span_notes(
    schema: Schema, split: SplitParams, first: float, last: float, numeric: bool
) -> list[str]:
    """A note when a numeric clock spanning ``first`` to ``last`` seconds cannot be right
    for its unit; none for a datetime column (it carries its own unit)."""
    if not numeric:
        return []
    note = clock_note(
        schema.time, last - first, schema.time_unit, measured_durations(schema, split)
    )
    return [note] if note else []
