"""How the manual writes numbers: one formatter per kind of quantity, so every page shows a
duration, a rate or a size the same way whichever result file it came from."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def seconds(value: float | None) -> str:
    """``0.55 s``, ``8.7 s``, ``31 s``, ``2 min 49 s``."""
    if missing(value):
        return "–"
    if value < 1:
        return f"{value:.2f} s"
    if value < 10:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def milliseconds(value: float | None) -> str:
    """Latencies: two significant decimals below 10 ms, whole milliseconds above."""
    if missing(value):
        return "–"
    if value >= 1 and value == round(value):  # a tool that rounds (Locust): no false decimals
        return f"{value:,.0f} ms"
    if value < 1:
        return f"{value:.2f} ms"
    if value < 10:
        return f"{value:.1f} ms"
    return f"{value:,.0f} ms"


def count(value: float | None) -> str:
    """Whole counts and rates with thousands separators: ``4,528``."""
    if missing(value):
        return "–"
    return f"{value:,.0f}"


def rate(value: float | None, unit: str = "req/s") -> str:
    return "–" if missing(value) else f"{count(value)} {unit}"


def mib(value: float | None) -> str:
    """Memory and disk: MiB below 10 GiB's worth of precision, GiB from 1 GiB up."""
    if missing(value):
        return "–"
    if value >= 1024:
        return f"{value / 1024:.1f} GiB"
    return f"{value:,.0f} MiB"


def metric(value: float | None, digits: int = 3) -> str:
    """A model metric (PR-AUC, recall, ...): three decimals."""
    return "–" if missing(value) else f"{value:.{digits}f}"


def share(value: float | None) -> str:
    return "–" if missing(value) else f"{value:.0%}".replace("%", " %")


def span(values: Sequence[float], render) -> str:  # type: ignore[no-untyped-def]
    """A range over repeated runs (``30 s to 31 s``), or one value when they agree."""
    present = [v for v in values if not missing(v)]
    if not present:
        return "–"
    low, high = render(min(present)), render(max(present))
    return low if low == high else f"{low} to {high}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (GitHub's and mkdocs' dialect)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
