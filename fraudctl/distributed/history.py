"""History features partition by partition, point-in-time correct across partition edges.

A job (consecutive partitions, usually days, up to ``compute.dask.rows_per_task`` rows) is
computed by :meth:`FeatureTransform.matrix` with, as history, the earlier partitions that
reach into its windows (``horizon_ms``: the longest window, or a
risk window plus its label delay), read with only the columns the kernel needs. Rows
older than that fall outside every window; the one thing they still decide is
``seconds_since_previous``, so each entity's last earlier row is added as well (a "last
seen" row, carried forward day by day on the client). With those, every feature equals
the single-machine pass over the whole log, bit for bit: sums are fixed point, and rows
are placed in the same (time, arrival) order.

Tasks are submitted a few at a time, so the cluster holds a bounded number of partitions
whatever the log's length; a worker caches the history columns it read last, since
consecutive jobs share most of their window.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fraudctl.features.transform import FeatureTransform


@dataclass(frozen=True)
class Partition:
    """One day's files (read in this order, then stably sorted by time) and what it is for."""

    index: int
    files: tuple[str, ...]
    labels: tuple[str, ...]  # one tag per file (the split), written as a column when set
    output: bool = True  # False: history only (an earlier log given to `score --history`)


@dataclass(frozen=True)
class PartitionStats:
    rows: int
    first_ms: int
    last_ms: int


TAG = "__part"  # the split (or other label) each row came from
PART_NUMBER = "__part_number"


def history_columns(transform: FeatureTransform) -> list[str]:
    columns = [transform.time, *transform.entities.values()]
    columns += [c for c in (transform.amount, transform.target, transform.analyst) if c]
    return list(dict.fromkeys(columns))


def needs_last_seen(transform: FeatureTransform) -> bool:
    return any(spec.time_since_previous for spec in transform.specs)


Clean = Callable[[pd.DataFrame, str], pd.DataFrame]


def read_partition(
    part: Partition,
    transform: FeatureTransform,
    columns: list[str] | None = None,
    clean: Clean | None = None,
) -> pd.DataFrame:
    """The partition's rows in (time, arrival) order; ``columns=None`` reads them all.
    ``clean(frame, file)`` validates raw input (scoring) before anything else."""
    frames = []
    for file, label in zip(part.files, part.labels, strict=True):
        wanted = columns
        if columns is not None:  # the label may be absent (a scoring batch)
            present = set(pq.read_schema(file).names)
            optional = (transform.target, transform.analyst)
            wanted = [c for c in columns if c in present or c not in optional]
        frame = pd.read_parquet(file, columns=wanted)
        if clean is not None:
            frame = clean(frame, file)
        if columns is None:
            frame[TAG] = label
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    order = np.argsort(transform.time_ms(frame[transform.time]), kind="stable")
    return frame.take(order).reset_index(drop=True)


def partition_stats(
    part: Partition, transform: FeatureTransform, clean: Clean | None = None
) -> PartitionStats:
    """Row count and time range (a task). Without ``clean`` only the time column is read;
    with it the whole file is validated, so bad input fails before any output is written."""
    columns = None if clean else [transform.time]
    times = read_partition(part, transform, columns, clean)
    time_ms = transform.time_ms(times[transform.time])
    return PartitionStats(len(times), int(time_ms.min()), int(time_ms.max()))


def check_time_order(parts: list[Partition], stats: list[PartitionStats]) -> None:
    """Each file must end before the next one starts (the order history relies on)."""
    from fraudctl.errors import DataError

    for (before, first), (after, second) in itertools.pairwise(zip(parts, stats, strict=True)):
        if first.last_ms >= second.first_ms:
            raise DataError(
                f"{before.files[-1]} does not end before {after.files[0]} starts: partitions "
                "must follow each other in time, e.g. one file per day named by date"
            )


def last_rows(
    part: Partition, transform: FeatureTransform, clean_history: Clean | None = None
) -> dict[str, pd.DataFrame]:
    """Each entity's last row in the partition, per entity role (a task)."""
    frame = read_partition(part, transform, history_columns(transform), clean_history)
    return {
        role: frame.drop_duplicates(column, keep="last")
        for role, column in transform.entities.items()
    }


class LastSeen:
    """Each entity's last row before a partition, carried forward partition by partition."""

    def __init__(self, transform: FeatureTransform) -> None:
        self.transform = transform
        self.rows: dict[str, pd.DataFrame] = {}

    def add(self, last: dict[str, pd.DataFrame]) -> None:
        for role, latest in last.items():
            column = self.transform.entities[role]
            known = self.rows.get(role)
            both = latest if known is None else pd.concat([known, latest], ignore_index=True)
            self.rows[role] = both.drop_duplicates(column, keep="last").reset_index(drop=True)

    def snapshot(self) -> pd.DataFrame | None:
        if not self.rows:
            return None
        rows = pd.concat(list(self.rows.values()), ignore_index=True).drop_duplicates()
        order = np.argsort(self.transform.time_ms(rows[self.transform.time]), kind="stable")
        return rows.take(order).reset_index(drop=True)


@dataclass(frozen=True)
class Job:
    """Consecutive partitions computed together, the earlier partitions they read as
    history, and the last row of each entity seen before those."""

    parts: tuple[Partition, ...]
    history: tuple[Partition, ...]
    last_seen: pd.DataFrame | None


def plan(
    parts: list[Partition],
    stats: list[PartitionStats],
    transform: FeatureTransform,
    fetch_last_rows: Callable[[Partition], dict[str, pd.DataFrame]],
    rows_per_task: int,
) -> Iterator[Job]:
    """Jobs in partition order, each up to ``rows_per_task`` rows of consecutive partitions
    (at least one): a day's history window is read once per job, not once per day.

    A partition leaves the history window once it ends before the job's horizon; its
    entities' last rows are then fetched and carried, so the client holds one carried
    state (bounded by the number of entities), not one per day."""
    horizon = max((spec.horizon_ms for spec in transform.specs), default=0)
    carried = LastSeen(transform)
    wanted = needs_last_seen(transform)
    start = 0  # partitions before this one are only in `carried`
    i = 0
    while i < len(parts):
        if not parts[i].output:
            i += 1
            continue
        while start < i and stats[start].last_ms < stats[i].first_ms - horizon:
            if wanted:
                carried.add(fetch_last_rows(parts[start]))
            start += 1
        end, rows = i + 1, stats[i].rows
        while end < len(parts) and parts[end].output and rows + stats[end].rows <= rows_per_task:
            rows += stats[end].rows
            end += 1
        yield Job(tuple(parts[i:end]), tuple(parts[start:i]), carried.snapshot())
        i = end


def job_inputs(
    job: Job,
    transform: FeatureTransform,
    clean: Clean | None = None,
    clean_history: Clean | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(the job's rows, the history they need), for ``transform.matrix``; the rows carry
    their partition number in ``PART_NUMBER``. History partitions are read with the
    kernel's columns only (and cleaned as such)."""
    frames = [
        read_partition(part, transform, clean=clean).assign(**{PART_NUMBER: part.index})
        for part in job.parts
    ]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    columns = history_columns(transform)
    earlier = [_cached_history(p, transform, columns, clean_history) for p in job.history]
    if job.last_seen is not None:
        earlier.insert(0, job.last_seen[[c for c in columns if c in job.last_seen.columns]])
    return frame, pd.concat(earlier, ignore_index=True) if earlier else None


# Consecutive days share most of their history window: a worker keeps the history columns
# of the partitions it read last (a day's window is ~37 partitions for the example's
# 30-day risk windows and 7-day label delay) instead of reading each one ~37 times.
HISTORY_CACHE_PARTITIONS = 48
_history_cache: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()


def _cached_history(
    part: Partition, transform: FeatureTransform, columns: list[str], clean: Clean | None
) -> pd.DataFrame:
    key = (part.files, tuple(Path(f).stat().st_mtime_ns for f in part.files), tuple(columns))
    if key in _history_cache:
        _history_cache.move_to_end(key)
        return _history_cache[key]
    frame = read_partition(part, transform, columns, clean)
    _history_cache[key] = frame
    while len(_history_cache) > HISTORY_CACHE_PARTITIONS:
        _history_cache.popitem(last=False)
    return frame


def run_bounded(
    client: Any,
    function: Callable[..., Any],
    items: Iterator[Any],
    in_flight: int,
    **kwargs: Any,
) -> list[Any]:
    """``function(item, **kwargs)`` on the cluster for every item, at most ``in_flight``
    at a time; results in item order. A failure is raised as soon as it is seen."""
    from distributed import as_completed

    results: dict[int, Any] = {}
    numbered = enumerate(items)
    run = uuid.uuid4().hex  # task keys unique to this call: nothing is shared across runs
    first = [
        client.submit(function, item, **kwargs, key=f"{function.__name__}-{run}-{n}")
        for n, item in itertools.islice(numbered, in_flight)
    ]
    order = {future.key: n for n, future in enumerate(first)}
    pending = as_completed(first)
    for future in pending:
        results[order.pop(future.key)] = future.result()
        future.release()
        for n, item in itertools.islice(numbered, 1):
            nxt = client.submit(function, item, **kwargs, key=f"{function.__name__}-{run}-{n}")
            order[nxt.key] = n
            pending.add(nxt)
    return [results[n] for n in sorted(results)]


def partitions_of(directory: Path) -> dict[int, str]:
    """``part-NNNNN.parquet`` files of a stage output directory, by partition number."""
    return {
        int(file.stem.split("-")[-1]): str(file)
        for file in sorted(Path(directory).glob("part-*.parquet"))
    }
