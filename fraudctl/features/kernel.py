"""History features over sorted event arrays: one implementation for offline and online.

The offline stage calls :func:`entity_features` once over every transaction of an entity
kind (rows sorted by entity, time, arrival); the online path calls it over the stored
events of the entities in a request plus the new rows. Both get bit-identical numbers:

- a row's window is the rows of its entity *at or before it in (time, arrival) order*
  whose time is within the window, so a later transaction at the same second never
  counts, offline or online (SQL ``RANGE`` frames in DuckDB or Polars would count such
  peers, which an online store cannot know about: the reason this is not SQL);
- sums are running sums of amounts in fixed point (1e-4 units, int64), which are exact,
  so a window's sum does not depend on how much history came before it;
- maxima come from a monotonic queue (exact).

It is one compiled pass (numba): two pointers per window, O(n) per window, so the same
code costs microseconds on one request's few dozen events and seconds on millions of
rows. Times are int64 milliseconds.

Labels come from two sources (:data:`fraudctl.features.store.LABEL_SOURCES`), passed as
bit masks: bit 0 a chargeback (or a label loaded with the history), bit 1 an analyst's
decision. A risk feature reads the most trusted label known (the chargeback where there
is one) of the rows in its window, which ends ``risk_delay_ms`` before the transaction;
with ``risk_analyst_delay_ms`` it also counts the analysts' labels of the rows newer than
that and at least ``risk_analyst_delay_ms`` old (analysts decide within a day, chargebacks
take weeks: the fresh rows are theirs). Without analysts' labels the values are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
    # analysts' labels count from this long after a transaction; -1: they do not count apart
    risk_analyst_delay_ms: int = -1

    def names(self) -> list[str]:
        """Output column names, in the order :func:`entity_features` returns them."""
        return list(self._names)

    @cached_property
    def _names(self) -> tuple[str, ...]:
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
        return tuple(names)

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(windows, aggregate codes, risk windows) as the kernel takes them, built once:
        an online request calls the kernel for every entity kind."""
        return (
            np.asarray(self.windows_ms, dtype=np.int64),
            np.asarray([AGGREGATE_CODES[a] for a in self.aggregates], dtype=np.int64),
            np.asarray(self.risk_windows_ms, dtype=np.int64),
        )

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


AGGREGATE_CODES = {"count": 0, "sum": 1, "mean": 2, "max": 3}


def entity_features(
    spec: WindowSpec,
    codes: np.ndarray,
    time_ms: np.ndarray,
    amount_fp: np.ndarray,
    labelled: np.ndarray,
    fraud: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    out: np.ndarray | None = None,
    first: int = 0,
) -> np.ndarray:
    """(rows x features, in ``spec.names()`` order) for rows sorted by (code, time, arrival).

    ``amount_fp`` is the amount in fixed point (int64); ``labelled``/``fraud`` are int64
    bit masks by label source (bit 0 chargeback, bit 1 analyst; 0/1 arrays are chargebacks
    alone): a row whose label is not known yet has labelled = fraud = 0.

    With ``rows`` and ``out`` the sorted row ``i`` is written straight into
    ``out[rows[i], first:]`` of a caller's row-major matrix, so a batch in file order
    needs no separate un-sorting pass (that scatter cost more than the features); a row
    whose ``rows`` entry is negative is history: it counts in later rows' windows but is
    not written.
    """
    width = len(spec._names)
    if out is None:
        out = np.empty((codes.size, width))
        first = 0
    if rows is None:
        rows = np.arange(codes.size, dtype=np.int64)
    if codes.size:
        known, frauds, by_analyst, analyst_frauds = label_sources(labelled, fraud)
        _kernel()(
            np.ascontiguousarray(codes, dtype=np.int64),
            np.ascontiguousarray(time_ms, dtype=np.int64),
            np.ascontiguousarray(amount_fp, dtype=np.int64),
            known,
            frauds,
            by_analyst,
            analyst_frauds,
            spec.arrays[0],
            spec.arrays[1],
            spec.relative_amount,
            spec.time_since_previous,
            spec.arrays[2],
            spec.risk_delay_ms,
            spec.risk_analyst_delay_ms,
            np.ascontiguousarray(rows, dtype=np.int64),
            out,
            first,
        )
    return out


def label_sources(
    labelled: np.ndarray, fraud: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bit masks -> (known, fraud) of the most trusted label (the chargeback where there is
    one, else the analyst's) and (known, fraud) of the analyst's label, as 0/1 int64."""
    labelled = np.ascontiguousarray(labelled, dtype=np.int64)
    fraud = np.ascontiguousarray(fraud, dtype=np.int64)
    if labelled.size == 0 or labelled.max() <= 1:  # chargebacks alone (0/1 arrays)
        zeros = np.zeros_like(labelled)
        return labelled, fraud, zeros, zeros
    charged = labelled & 1
    by_analyst, analyst_fraud = (labelled >> 1) & 1, (fraud >> 1) & 1
    best = np.where(charged == 1, fraud & 1, analyst_fraud)
    return (labelled != 0).astype(np.int64), best.astype(np.int64), by_analyst, analyst_fraud


def warm_up() -> None:
    """Run the compiled pass once on two rows, loading it from numba's cache."""
    spec = WindowSpec("warm", (1000,), ("count", "max"), True, True, (1000,), 0)
    one = np.ones(2, dtype=np.int64)
    entity_features(spec, one, one, one, one, one)


_KERNEL = None


def _kernel():
    """The compiled pass, built on first use (cached on disk where the package is writable)."""
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _compile()
    return _KERNEL


def _compile():
    import numba

    scale = float(AMOUNT_SCALE)

    @numba.njit(cache=True, nogil=True)
    def run(
        codes,
        time_ms,
        amount_fp,
        labelled,
        fraud,
        by_analyst,
        analyst_fraud,
        windows,
        aggregates,
        relative,
        since_previous,
        risk_windows,
        delay,
        analyst_delay,
        rows,
        out,
        first,
    ):  # pragma: no cover - compiled
        n = codes.size
        queue = np.empty(n, np.int64)  # indices of window maxima candidates, amounts falling
        column = first
        for k in range(windows.size):
            width = windows[k]
            start = 0
            total = 0
            head = 0
            tail = 0
            for i in range(n):
                if i == 0 or codes[i] != codes[i - 1]:
                    start = i
                    total = 0
                    head = 0
                    tail = 0
                total += amount_fp[i]
                while tail > head and amount_fp[queue[tail - 1]] <= amount_fp[i]:
                    tail -= 1
                queue[tail] = i
                tail += 1
                limit = time_ms[i] - width
                while time_ms[start] <= limit:  # the window is (t - width, t]
                    total -= amount_fp[start]
                    start += 1
                while queue[head] < start:
                    head += 1
                r = rows[i]
                if r < 0:  # history only: it feeds later rows' windows, is not returned
                    continue
                count = i - start + 1
                window_sum = total / scale
                mean = window_sum / count
                c = column
                for a in range(aggregates.size):
                    kind = aggregates[a]
                    if kind == 0:
                        out[r, c] = count
                    elif kind == 1:
                        out[r, c] = window_sum
                    elif kind == 2:
                        out[r, c] = mean
                    else:
                        out[r, c] = amount_fp[queue[head]] / scale
                    c += 1
                if relative:
                    out[r, c] = (amount_fp[i] / scale) / mean if mean > 0 else np.nan
            column += aggregates.size + (1 if relative else 0)
        if since_previous:
            for i in range(n):
                if rows[i] < 0:
                    continue
                if i > 0 and codes[i] == codes[i - 1]:
                    out[rows[i], column] = (time_ms[i] - time_ms[i - 1]) / 1000.0
                else:
                    out[rows[i], column] = np.nan
            column += 1
        analysts = analyst_delay >= 0
        for k in range(risk_windows.size):
            width = risk_windows[k]
            start = 0
            stop = 0  # rows before it are past the chargeback delay
            fresh = 0  # rows before it are past the analysts' delay
            known = 0
            frauds = 0
            known_fresh = 0  # analysts' labels of the rows in [stop, fresh)
            frauds_fresh = 0
            for i in range(n):
                if i == 0 or codes[i] != codes[i - 1]:
                    start = i
                    stop = i
                    fresh = i
                    known = 0
                    frauds = 0
                    known_fresh = 0
                    frauds_fresh = 0
                due = time_ms[i] - delay  # labels of rows at or before this are known
                if analysts:  # analysts' labels of rows at or before this are known
                    while fresh < i and time_ms[fresh] <= time_ms[i] - analyst_delay:
                        known_fresh += by_analyst[fresh]
                        frauds_fresh += analyst_fraud[fresh]
                        fresh += 1
                while stop < i and time_ms[stop] <= due:
                    if analysts:  # its chargeback is due: no longer the analysts' part
                        known_fresh -= by_analyst[stop]
                        frauds_fresh -= analyst_fraud[stop]
                    known += labelled[stop]
                    frauds += fraud[stop]
                    stop += 1
                while start < stop and time_ms[start] <= due - width:
                    known -= labelled[start]
                    frauds -= fraud[start]
                    start += 1
                if rows[i] < 0:
                    continue
                total = known + known_fresh
                out[rows[i], column] = (frauds + frauds_fresh) / total if total > 0 else 0.0
                out[rows[i], column + 1] = total
            column += 2

    return run


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
