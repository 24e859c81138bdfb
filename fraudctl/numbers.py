"""One way to print a number, for the CLI's tables, the pull-request report and the
experiments' summaries: counts whole, money to the cent, rates to four places, large
values to two, a missing value as an en dash and negatives with a real minus sign."""

from __future__ import annotations

import math
from typing import Any

MINUS = "\N{MINUS SIGN}"
COUNTS = frozenset(
    {
        "count",
        "frauds",
        "alerts",
        "rows",
        "true_positives",
        "false_positives",
        "false_negatives",
        "frauds_caught",
    }
)


def number(value: Any, name: str = "", signed: bool = False) -> str:
    """``value`` as text; ``name`` (a metric or column) says whether it is a count or money."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    base = name.rsplit(".", 1)[-1]  # "reports/metrics.json.expected_cost" -> expected_cost
    if isinstance(value, int) or base in COUNTS:
        text = f"{abs(round(value)):,}"
    elif "amount" in base or "cost" in base or abs(value) >= 1000:
        text = f"{abs(value):,.2f}"
    else:
        text = f"{abs(value):,.4f}"
    if value < 0 and text.strip("0.,"):
        return f"{MINUS}{text}"
    return f"+{text}" if signed else text


def significant(value: Any, digits: int = 6) -> Any:
    """``value`` with every float rounded to ``digits`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: significant(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [significant(v, digits) for v in value]
    return value
