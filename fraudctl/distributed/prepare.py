"""Stage ``prepare`` on Dask: one task per input partition, the same rows as ``engine: local``.

Two passes over the partitions. The first validates each file (errors name the file and
its row), drops repeated rows and sorts it by time, into a scratch directory; the client
then checks the files follow each other in time and places the split boundaries by global
row count, exactly where the local engine's stable sort puts them. The second pass cuts
each partition into its splits, written as ``data/prepared/<split>.parquet/part-NNNNN``
directories that pandas, Dask and every later stage read like the local engine's files.

Repeated rows are dropped within a file: a log partitioned by day holds a row's repeats in
the same file (they share the timestamp).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import SchemaParams, SplitParams
from fraudctl.data.clock import clock_facts, span_notes
from fraudctl.data.prepare import PrepareResult, PrepareSettings, SplitSummary, data_report
from fraudctl.data.schema import Schema, seconds_of
from fraudctl.data.validate import ValidationSummary, validate_table
from fraudctl.distributed.cluster import connect
from fraudctl.distributed.settings import DaskParams
from fraudctl.errors import ConfigError, DataError
from fraudctl.io import atomic_directory, atomic_path, is_partitioned, json_text, partition_files
from fraudctl.io import read_table as read_file
from fraudctl.paths import SPLITS, ProjectPaths

PART = "part-{:05d}.parquet"


@dataclass
class CleanPartition:
    """What the first pass learnt about one input file."""

    file: str
    clean: str
    rows: int
    seconds_min: float
    seconds_max: float
    summary: ValidationSummary
    schema: Schema


def prepare_partitions(
    dask: DaskParams, settings: PrepareSettings, paths: ProjectPaths, source: str
) -> PrepareResult:
    if not is_partitioned(source):
        raise ConfigError(
            f"data.source: {source!r}: compute.engine: dask reads a directory or glob of "
            "parquet files partitioned by day (or use engine: local for one file)"
        )
    if settings.split.method != "time":
        raise ConfigError(
            "split.method: random needs every row at once; use engine: local, or method: time"
        )
    files = partition_files(source)
    paths.prepared_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".prepare-", dir=paths.prepared_dir.parent))
    try:
        with connect(dask) as client:
            cleaned = client.gather(
                client.map(
                    clean_partition,
                    [str(f) for f in files],
                    [str(scratch / PART.format(i)) for i in range(len(files))],
                    schema=settings.data.schema_,
                    drop_duplicates=settings.data.drop_duplicates,
                    max_amount=settings.data.max_amount,
                    pure=False,
                )
            )
            schema = same_schema(cleaned)
            check_time_order(cleaned)
            bounds = split_bounds(client, cleaned, settings.split)
            with (
                atomic_path(paths.data_report) as report_tmp,
                atomic_directory(paths.prepared_dir) as staging,
            ):
                staging.mkdir()
                for name in (*SPLITS, "gap"):
                    (staging / f"{name}.parquet").mkdir()
                offsets = np.concatenate([[0], np.cumsum([c.rows for c in cleaned])[:-1]])
                pieces = client.gather(
                    client.map(
                        split_partition,
                        [c.clean for c in cleaned],
                        offsets.tolist(),
                        list(range(len(cleaned))),
                        staging=str(staging),
                        bounds=bounds,
                        time=schema.time,
                        target=schema.target,
                        unit=schema.time_unit,
                        pure=False,
                    )
                )
                splits = merge_summaries(pieces)
                first = min(c.seconds_min for c in cleaned)
                last = max(c.seconds_max for c in cleaned)
                numeric = not any(isinstance(s.time_min, str) for s in splits.values())
                facts = clock_facts(
                    schema.time, last - first, schema.time_unit if numeric else None
                )
                check_both_classes(splits, settings.split, facts)
                summary = merge_validation(source, [c.summary for c in cleaned])
                gap_rows = splits.pop("gap").rows
                report = data_report(settings.split, summary, schema, splits, gap_rows=gap_rows)
                report_tmp.write_text(json_text(report), encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outputs = [paths.split_file(s) for s in SPLITS] + [paths.gap_file, paths.data_report]
    return PrepareResult(
        validation=summary,
        schema=schema,
        splits=splits,
        outputs=outputs,
        notes=span_notes(schema, settings.split, first, last, numeric),
    )


def clean_partition(
    file: str,
    clean: str,
    schema: SchemaParams,
    drop_duplicates: bool,
    max_amount: float,
) -> CleanPartition:
    """Validate one file and write it sorted by time (a task on a worker)."""
    frame, resolved, summary = validate_table(
        read_file(Path(file)),
        schema,
        source=file,
        drop_duplicates=drop_duplicates,
        max_amount=max_amount,
    )
    seconds = seconds_of(frame[resolved.time], resolved.time_unit)
    order = np.argsort(seconds, kind="stable")
    frame.take(order).reset_index(drop=True).to_parquet(clean, index=False)
    return CleanPartition(
        file=file,
        clean=clean,
        rows=len(frame),
        seconds_min=float(seconds.min()),
        seconds_max=float(seconds.max()),
        summary=summary,
        schema=resolved,
    )


def same_schema(cleaned: list[CleanPartition]) -> Schema:
    """Every partition must resolve to the first one's columns (``features: all`` is
    resolved per file)."""
    first = cleaned[0]
    for part in cleaned[1:]:
        if part.schema != first.schema:
            theirs = set(part.schema.features) ^ set(first.schema.features)
            raise DataError(
                f"{part.file}: its columns differ from {first.file}'s"
                + (f" (features {', '.join(sorted(theirs))})" if theirs else "")
                + "; every partition needs the same columns"
            )
    return first.schema


def check_time_order(cleaned: list[CleanPartition]) -> None:
    """Each file must end before the next one starts: the global order is then file order,
    and a later stage's ties in time never straddle two files (files cut at midnight)."""
    for before, after in itertools.pairwise(cleaned):
        if before.seconds_max >= after.seconds_min:
            raise DataError(
                f"{before.file} does not end before {after.file} starts "
                f"({pd.Timestamp(before.seconds_max, unit='s')} >= "
                f"{pd.Timestamp(after.seconds_min, unit='s')}): engine dask needs partitions "
                "in time order, e.g. one file per day named by date (2026-04-01.parquet)"
            )


@dataclass(frozen=True)
class SplitBounds:
    """Global row positions of the split boundaries and the gap cut-offs (seconds)."""

    first: int
    second: int
    validation_gap_until: float
    test_gap_until: float


def split_bounds(client: Any, cleaned: list[CleanPartition], split: SplitParams) -> SplitBounds:
    """Where the local engine would cut: fractions of the row count, then ``split.gap``
    after the last training and the last validation row."""
    n = sum(c.rows for c in cleaned)
    first = round(n * split.train)
    second = first + round(n * split.validation)
    gap = split.gap_seconds
    if not gap or not 0 < first < second <= n:
        return SplitBounds(first, second, -np.inf, -np.inf)
    starts = np.cumsum([0] + [c.rows for c in cleaned])

    def seconds_at(position: int) -> float:
        index = int(np.searchsorted(starts, position, side="right") - 1)
        return client.submit(
            _seconds_at,
            cleaned[index].clean,
            cleaned[index].schema.time,
            cleaned[index].schema.time_unit,
            position - int(starts[index]),
            pure=False,
        ).result()

    return SplitBounds(first, second, seconds_at(first - 1) + gap, seconds_at(second - 1) + gap)


def _seconds_at(clean: str, time: str, unit: str, position: int) -> float:
    column = pd.read_parquet(clean, columns=[time])[time]
    return float(seconds_of(column.iloc[[position]], unit)[0])


def split_partition(
    clean: str,
    offset: int,
    index: int,
    staging: str,
    bounds: SplitBounds,
    time: str,
    target: str,
    unit: str,
) -> dict[str, SplitSummary | None]:
    """Cut one sorted partition into its splits and write each non-empty piece (a task).

    The first partition also writes empty pieces, so every split directory holds the
    columns and their types even when a split has no rows there.
    """
    frame = pd.read_parquet(clean)
    position = offset + np.arange(len(frame))
    split = np.where(position < bounds.first, 0, np.where(position < bounds.second, 1, 2)).astype(
        np.int8
    )
    seconds = seconds_of(frame[time], unit)
    in_gap = ((split == 1) & (seconds < bounds.validation_gap_until)) | (
        (split == 2) & (seconds < bounds.test_gap_until)
    )
    split[in_gap] = 3
    out: dict[str, SplitSummary | None] = {}
    for code, name in enumerate((*SPLITS, "gap")):
        piece = frame[split == code]
        if len(piece) or index == 0:
            piece.to_parquet(Path(staging) / f"{name}.parquet" / PART.format(index), index=False)
        out[name] = summarise(piece, time, target) if len(piece) else None
    return out


def summarise(piece: pd.DataFrame, time: str, target: str) -> SplitSummary:
    frauds = int(piece[target].sum())
    times = piece[time]
    return SplitSummary(len(piece), frauds, frauds / len(piece), times.min(), times.max())


def merge_summaries(pieces: list[dict[str, SplitSummary | None]]) -> dict[str, SplitSummary]:
    """Per-split totals over partitions, in the local engine's format (datetimes as text)."""
    merged: dict[str, SplitSummary] = {}
    for name in (*SPLITS, "gap"):
        found = [p[name] for p in pieces if p[name] is not None]
        rows = sum(f.rows for f in found)
        frauds = sum(f.frauds for f in found)
        if not found:
            merged[name] = SplitSummary(0, 0, 0.0, float("nan"), float("nan"))
            continue
        first, last = min(f.time_min for f in found), max(f.time_max for f in found)
        if isinstance(first, pd.Timestamp):
            first, last = str(first), str(last)
        else:
            first, last = float(first), float(last)
        merged[name] = SplitSummary(rows, frauds, frauds / rows, first, last)
    return merged


def check_both_classes(splits: dict[str, SplitSummary], split: SplitParams, clock: str) -> None:
    """Every split needs both classes; with a gap, the message says what the clock spans."""
    for name in SPLITS:
        part = splits[name]
        if part.rows == 0 or part.frauds in (0, part.rows):
            gap = f" or a smaller split.gap ({split.gap}; {clock})" if split.gap else ""
            raise DataError(
                f"the {name} split has {part.rows} rows and {part.frauds} frauds; "
                f"every split needs both classes: use more data or change split fractions{gap}"
            )


def merge_validation(source: str, summaries: list[ValidationSummary]) -> ValidationSummary:
    first = summaries[0]
    kept = sum(s.rows_kept for s in summaries)
    frauds = sum(s.frauds for s in summaries)
    return ValidationSummary(
        source=source,
        rows_read=sum(s.rows_read for s in summaries),
        columns=first.columns,
        features=first.features,
        duplicates_found=sum(s.duplicates_found for s in summaries),
        duplicates_dropped=sum(s.duplicates_dropped for s in summaries),
        rows_kept=kept,
        frauds=frauds,
        fraud_rate=frauds / kept if kept else 0.0,
        extra_columns=first.extra_columns,
    )
