"""The prepare stage's work: ingest -> validate -> de-duplicate -> split -> data/prepared/.

Nothing is written until the whole table has passed validation and been split, and each
file is renamed into place, so a bad input leaves the previous outputs untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import DataParams, SplitParams
from fraudctl.data.clock import gap_clock, numeric_clock, span_notes
from fraudctl.data.schema import Schema, seconds_of
from fraudctl.data.validate import ValidationSummary, validate_table
from fraudctl.durations import DEFAULT_TIME_UNIT
from fraudctl.errors import DataError
from fraudctl.faults import crash_point
from fraudctl.io import (
    atomic_directory,
    atomic_path,
    is_partitioned,
    json_text,
    partition_files,
    read_table,
)
from fraudctl.paths import SPLITS, ProjectPaths


@dataclass(frozen=True)
class PrepareSettings:
    """What prepare reads of params.yaml: data, split, the seed, and the columns
    features.leak_guard_allow keeps although they look like ids or clocks."""

    data: DataParams
    split: SplitParams
    seed: int
    leak_guard_allow: tuple[str, ...] = ()


@dataclass
class SplitSummary:
    rows: int
    frauds: int
    fraud_rate: float
    time_min: float | str
    time_max: float | str


@dataclass
class PrepareResult:
    validation: ValidationSummary
    schema: Schema
    splits: dict[str, SplitSummary]
    outputs: list[Path]
    notes: list[str] = field(default_factory=list)  # facts a user should know, not errors


def split_ties(frame: pd.DataFrame, schema: Schema, split: SplitParams) -> list[str]:
    """Where a time split cuts through rows that share one time value (a day, a year):
    said, not hidden, since such a value then lands on both sides of the cut."""
    if split.method != "time" or frame.empty:
        return []
    times = np.sort(frame[schema.time].to_numpy(), kind="stable")
    first = round(len(times) * split.train)
    second = first + round(len(times) * split.validation)
    notes = []
    for cut, between in ((first, "train/validation"), (second, "validation/test")):
        if 0 < cut < len(times) and times[cut - 1] == times[cut]:
            value = times[cut]
            before = int(np.sum(times[:cut] == value))
            after = int(np.sum(times[cut:] == value))
            shown = str(value)[:19] if not isinstance(value, float) else f"{value:g}"
            notes.append(
                f"the {between} cut falls inside time value {shown}: {before:,} of its rows "
                f"before the cut, {after:,} after (rows are cut by position within a value)"
            )
    return notes


def load_source(settings: PrepareSettings, source: str | None = None) -> tuple[pd.DataFrame, str]:
    """The raw table and a name for it in messages: the synthetic generator or a file."""
    source = source or settings.data.source
    if source == "synthetic":
        from fraudctl.data.synthetic import generate_transactions

        synthetic = settings.data.synthetic
        frame = generate_transactions(
            n_rows=synthetic.n_rows,
            fraud_rate=synthetic.fraud_rate,
            days=synthetic.days,
            seed=settings.seed,
        )
        return frame, "synthetic"
    if source == "synthetic-transactions":
        from fraudctl.data.synthetic_transactions import generate_transaction_log

        log = settings.data.synthetic_transactions
        frame = generate_transaction_log(**log.model_dump(), seed=settings.seed)
        return frame, "synthetic-transactions"
    if is_partitioned(source):
        check_fits_in_memory(source)
    return read_table(Path(source)), source


def check_fits_in_memory(source: str) -> None:
    """The local engine reads a partitioned source whole: refuse it if it cannot."""
    import pyarrow.parquet as pq

    from fraudctl.capacity import PREPARE_COPIES, require_memory

    cells = 0
    for file in partition_files(source):
        try:
            meta = pq.ParquetFile(file).metadata
        except Exception:
            continue  # read_table names a damaged file precisely
        cells += meta.num_rows * meta.num_columns
    require_memory(cells, PREPARE_COPIES, source)


def split_table(
    frame: pd.DataFrame, schema: Schema, split: SplitParams, seed: int
) -> dict[str, pd.DataFrame]:
    """Train on the past, validate on the near future, test on the far future.

    With ``split.gap`` the first ``gap`` of validation and of test is set aside (labels
    arrive late, so a model is never validated on the days right after its training data);
    those rows come back as ``"gap"``: history for the features, never scored.
    ``method: random`` is an opt-in stratified shuffle, for data without a usable clock.
    """
    n = len(frame)
    if split.method == "time":
        order = np.argsort(frame[schema.time].to_numpy(), kind="stable")
    else:
        order = _stratified_permutation(frame[schema.target].to_numpy(), seed)
    ordered = frame.iloc[order].reset_index(drop=True)
    first = round(n * split.train)
    second = first + round(n * split.validation)
    parts = {
        "train": ordered.iloc[:first],
        "validation": ordered.iloc[first:second],
        "test": ordered.iloc[second:],
    }
    gap_parts = []
    if split.gap_seconds:
        seconds = seconds_of(ordered[schema.time], schema.time_unit)
        for last, name in ((first - 1, "validation"), (second - 1, "test")):
            cut = seconds[last] + split.gap_seconds if last >= 0 else -np.inf
            part = parts[name]
            inside = seconds[part.index] < cut
            gap_parts.append(part[inside])
            parts[name] = part[~inside]
    for name, part in parts.items():
        labels = part[schema.target]
        if part.empty or labels.nunique() < 2:
            gap = (
                f" after split.gap ({split.gap}) set aside the first "
                f"{len(gap_parts[0 if name == 'validation' else -1]):,} rows; "
                + gap_clock(
                    ordered[schema.time], schema, f"split.gap ({split.gap})", split.gap_seconds
                )
                if split.gap_seconds and name != "train" and gap_parts
                else ""
            )
            raise DataError(
                f"the {name} split has {len(part)} rows and {int(labels.sum())} frauds{gap}; "
                "every split needs both classes: use more data, change split fractions"
                f"{' or a smaller split.gap' if gap else ''}"
            )
    result = {name: part.reset_index(drop=True) for name, part in parts.items()}
    result["gap"] = (
        pd.concat(gap_parts, ignore_index=True) if gap_parts else ordered.iloc[:0].copy()
    )
    return result


def _stratified_permutation(labels: np.ndarray, seed: int) -> np.ndarray:
    """A shuffle interleaving each class evenly, so every contiguous cut keeps the fraud rate."""
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        keys[members] = (rng.permutation(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def _summarise(part: pd.DataFrame, schema: Schema) -> SplitSummary:
    frauds = int(part[schema.target].sum())
    times = part[schema.time]
    if pd.api.types.is_datetime64_any_dtype(times):
        first, last = (str(t) for t in (times.min(), times.max()))
        return SplitSummary(len(part), frauds, frauds / len(part), first, last)
    return SplitSummary(
        rows=len(part),
        frauds=frauds,
        fraud_rate=frauds / len(part),
        time_min=float(times.min()),
        time_max=float(times.max()),
    )


def data_report(
    split: SplitParams,
    summary: ValidationSummary,
    schema: Schema,
    splits: dict[str, SplitSummary],
    gap_rows: int,
) -> dict[str, Any]:
    """``reports/data.json``: what later stages read back as the raw schema (both engines)."""
    raw_schema: dict[str, Any] = {
        "time": schema.time,
        "amount": schema.amount,
        "target": schema.target,
        "group": schema.group,
        "features": list(schema.features),
        "entities": schema.entities,
        "categorical": list(schema.categorical),
    }
    if schema.time_unit != DEFAULT_TIME_UNIT:  # a report without it reads as seconds
        raw_schema["time_unit"] = schema.time_unit
    if schema.analyst_label:  # only then: a table without one reports as before
        raw_schema["analyst_label"] = schema.analyst_label
    return {
        "source": summary.to_dict(),
        "schema": raw_schema,
        "split_method": split.method,
        "split_gap": split.gap,
        "gap_rows": gap_rows,
        "splits": {k: vars(v) for k, v in splits.items()},
    }


def refuse_order_columns(
    frame: pd.DataFrame, schema: Schema, settings: PrepareSettings, source: str
) -> None:
    """``features: all`` takes every undeclared column: stop on ids and clocks among them
    (:mod:`fraudctl.data.idlike`) unless they are listed in features.leak_guard_allow."""
    from fraudctl.data.idlike import describe, order_like_columns

    allowed = set(settings.leak_guard_allow)
    candidates = [c for c in schema.features if c not in allowed]
    found = order_like_columns(frame, candidates, schema.time, settings.seed)
    if found:
        raise DataError(
            f"{source}: data.schema.features: all takes in column(s) that look like ids or "
            f"clocks ({describe(found)}); a model learns a row's place in the file from them, "
            "which does not carry over to new data: add them to data.schema.exclude, or to "
            "features.leak_guard_allow to keep them"
        )


def prepare(
    settings: PrepareSettings, paths: ProjectPaths, source: str | None = None
) -> PrepareResult:
    """The whole stage in this process; ``source`` overrides ``data.source``. (The stage,
    :mod:`fraudctl.stages.prepare`, chooses between this and the Dask engine.)"""
    raw, name = load_source(settings, source)
    clean, schema, summary = validate_table(
        raw,
        settings.data.schema_,
        source=name,
        drop_duplicates=settings.data.drop_duplicates,
        max_amount=settings.data.max_amount,
    )
    if settings.data.schema_.features == "all":
        refuse_order_columns(clean, schema, settings, name)
    parts = split_table(clean, schema, settings.split, settings.seed)
    splits = {name: _summarise(parts[name], schema) for name in SPLITS}

    report = data_report(settings.split, summary, schema, splits, gap_rows=len(parts["gap"]))
    # The splits and their report are one output: the report is written under a temporary
    # name first, the splits are built in a staging directory, then both are renamed.
    with atomic_path(paths.data_report) as report_tmp:
        report_tmp.write_text(json_text(report), encoding="utf-8")
        with atomic_directory(paths.prepared_dir) as staging:
            staging.mkdir()
            for split_name in (*SPLITS, "gap"):
                parts[split_name].to_parquet(staging / f"{split_name}.parquet", index=False)
            crash_point("prepare:before-swap")
        crash_point("prepare:after-swap")
    outputs = [paths.split_file(s) for s in SPLITS] + [paths.gap_file, paths.data_report]
    return PrepareResult(
        validation=summary,
        schema=schema,
        splits=splits,
        outputs=outputs,
        notes=split_ties(clean, schema, settings.split) + clock_notes(clean, schema, settings),
    )


def clock_notes(frame: pd.DataFrame, schema: Schema, settings: PrepareSettings) -> list[str]:
    times = frame[schema.time]
    if frame.empty or not numeric_clock(times):
        return []
    seconds = seconds_of(times, schema.time_unit)
    return span_notes(schema, settings.split, float(seconds.min()), float(seconds.max()), True)
