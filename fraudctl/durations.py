"""Durations as params.yaml writes them (``7d``, ``12h``, ``30m``, ``45s``, ``2w``), and the
units of a numeric clock (``data.schema.time_unit``).

Every duration is measured in seconds, and every numeric clock is turned into seconds by
:func:`clock_seconds` alone: the split's gap, the prequential folds, the feature windows
and label delays, card precision's days and the online store all read a clock through it,
so a log whose clock counts days needs no other change than its unit.
"""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}

# What one step of a numeric clock is, in seconds: data.schema.time_unit.
TIME_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
DEFAULT_TIME_UNIT = "s"
UNIT_NAMES = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or ``"2w"`` -> seconds."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit: s, m, h, d or w (e.g. 7d)"
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def unit_seconds(unit: str) -> float:
    """Seconds in one step of a clock counting ``unit`` (ms, s, m, h or d)."""
    try:
        return TIME_UNITS[unit]
    except KeyError:
        raise ValueError(f"time unit {unit!r} is not one of {', '.join(TIME_UNITS)}") from None


def clock_seconds(values: Any, unit: str) -> Any:
    """Readings of a numeric clock counting ``unit`` -> seconds (float64; an array, or a
    0-d array for one reading). The one conversion from a clock to time.

    With the default unit the readings come back as they are (a product with 1.0 is
    exact), so a clock in seconds gives the same bits as before units existed.
    """
    import numpy as np

    return np.asarray(values, dtype=np.float64) * unit_seconds(unit)
