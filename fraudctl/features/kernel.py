"""History features over sorted event arrays: one implementation for offline and online.

The offline stage calls :func:`entity_features` once over every transaction of an entity
kind (rows sorted by entity, time, arrival); the online path calls it over one entity's
stored events plus the transaction being scored. Both get bit-identical numbers because:

- a row's window is the rows of its entity *at or before it in (time, arrival) order*
  whose time is within the window, so a later transaction at the same second never
  counts, offline or online (SQL ``RANGE`` frames in DuckDB or Polars would count such
  peers, which an online store cannot know about: the reason this is not SQL);
- sums are prefix sums of amounts in fixed point (1e-4 units, int64), which are exact, so
  a window's sum does not depend on how much history came before it;
- maxima come from a sparse table (exact for any range).

Times are int64 milliseconds. All work is vectorised numpy: O(n log n) per window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AMOUNT_SCALE = 10_000  # fixed-point units per currency unit
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class WindowSpec:
    """The features of one entity kind, in milliseconds."""

    role: str
    windows_ms: tuple[int, ...]
    aggregates: tuple[str, ...]
    relative_amount: bool
    time_since_previous: bool
    risk_windows_ms: tuple[int, ...]
    risk_delay_ms: int

    def names(self) -> list[str]:
        """Output column names, in the order :func:`entity_features` returns them."""
        names = []
        for window in self.windows_ms:
            label = duration_label(window)
            for aggregate in self.aggregates:
                names.append(
                    f"{self.role}_count_{label}"
                    if aggregate == "count"
                    else f"{self.role}_amount_{aggregate}_{label}"
                )
            if self.relative_amount:
                names.append(f"{self.role}_amount_to_mean_{label}")
        if self.time_since_previous:
            names.append(f"{self.role}_seconds_since_previous")
        for window in self.risk_windows_ms:
            label = duration_label(window)
            names += [f"{self.role}_risk_{label}", f"{self.role}_labelled_{label}"]
        return names

    @property
    def horizon_ms(self) -> int:
        """How far back an online look-up must reach to compute every feature."""
        spans = [*self.windows_ms, *(self.risk_delay_ms + w for w in self.risk_windows_ms)]
        return max(spans, default=0)


def duration_label(ms: int) -> str:
    for unit, size in (("d", MS_PER_DAY), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms // 1000}s"


def _sparse_table(values: np.ndarray, longest: int) -> list[np.ndarray]:
    """Level k holds the maximum of values[i : i + 2**k]; enough levels for ``longest``."""
    table = [values]
    span = 1
    while span * 2 <= longest:
        previous = table[-1]
        table.append(np.maximum(previous[:-span], previous[span:]))
        span *= 2
    return table


def _range_max(table: list[np.ndarray], start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """max(values[start:stop]) for every pair (stop > start)."""
    length = stop - start
    level = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
    out = np.empty(start.size)
    for k in np.unique(level):
        rows = level == k
        values = table[k]
        out[rows] = np.maximum(values[start[rows]], values[stop[rows] - (1 << k)])
    return out


def entity_features(
    spec: WindowSpec,
    codes: np.ndarray,
    time_ms: np.ndarray,
    amount_fp: np.ndarray,
    labelled: np.ndarray,
    fraud: np.ndarray,
) -> list[np.ndarray]:
    """One array per feature (in ``spec.names()`` order), for rows sorted by
    (code, time, arrival).

    ``amount_fp`` is the amount in fixed point (int64); ``labelled``/``fraud`` are 0/1
    int64 arrays (a row whose label is not known yet has labelled = fraud = 0).
    """
    n = codes.size
    columns: list[np.ndarray] = []
    if n == 0:
        return [np.empty(0) for _ in spec.names()]
    t0 = int(time_ms.min())
    span = int(time_ms.max()) - t0 + spec.horizon_ms + 1
    if (int(codes.max()) + 1) * span >= 2**62:
        raise OverflowError("too many entities over too long a period for int64 keys")
    keys = codes.astype(np.int64) * span + (time_ms - t0)
    position = np.arange(n)
    amount_sum = np.concatenate([[0], np.cumsum(amount_fp)])

    def window_start(offset_ms: int) -> np.ndarray:
        """First row of the entity whose time is > the row's time - offset."""
        return np.searchsorted(keys, keys - offset_ms, side="right")

    amounts = amount_fp / AMOUNT_SCALE
    longest = 1
    starts = []
    for window in spec.windows_ms:
        start = window_start(window)
        starts.append(start)
        longest = max(longest, int((position + 1 - start).max()))
    table = _sparse_table(amounts, longest) if "max" in spec.aggregates else []
    for start in starts:
        count = (position + 1 - start).astype(np.float64)
        total = (amount_sum[position + 1] - amount_sum[start]) / AMOUNT_SCALE
        mean = total / count
        for aggregate in spec.aggregates:
            if aggregate == "count":
                columns.append(count)
            elif aggregate == "sum":
                columns.append(total)
            elif aggregate == "mean":
                columns.append(mean)
            else:
                columns.append(_range_max(table, start, position + 1))
        if spec.relative_amount:
            with np.errstate(divide="ignore", invalid="ignore"):
                columns.append(np.where(mean > 0, amounts / mean, np.nan))
    if spec.time_since_previous:
        gap = np.full(n, np.nan)
        same = codes[1:] == codes[:-1]
        gap[1:] = np.where(same, (time_ms[1:] - time_ms[:-1]) / 1000.0, np.nan)
        columns.append(gap)
    if spec.risk_windows_ms:
        labelled_sum = np.concatenate([[0], np.cumsum(labelled)])
        fraud_sum = np.concatenate([[0], np.cumsum(fraud)])
        stop = window_start(spec.risk_delay_ms)  # rows at least `delay` older: labels known
        for window in spec.risk_windows_ms:
            start = window_start(spec.risk_delay_ms + window)
            known = (labelled_sum[stop] - labelled_sum[start]).astype(np.float64)
            frauds = (fraud_sum[stop] - fraud_sum[start]).astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                columns.append(np.where(known > 0, frauds / known, 0.0))
            columns.append(known)
    return columns


def calendar_features(time_ms: np.ndarray, wanted: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Hour of day, night (22:00-06:00) and weekend, from epoch milliseconds (UTC)."""
    hour = (time_ms % MS_PER_DAY) // 3_600_000
    out: dict[str, np.ndarray] = {}
    if "hour" in wanted:
        out["hour"] = hour.astype(np.float64)
    if "night" in wanted:
        out["is_night"] = ((hour < 6) | (hour >= 22)).astype(np.float64)
    if "weekend" in wanted:
        weekday = (time_ms // MS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        out["is_weekend"] = (weekday >= 5).astype(np.float64)
    return out
