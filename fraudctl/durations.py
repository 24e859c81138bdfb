"""Durations as params.yaml writes them (``7d``, ``12h``, ``30m``, ``45s``, ``2w``)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or ``"2w"`` -> seconds."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit: s, m, h, d or w (e.g. 7d)"
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
