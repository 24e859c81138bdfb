"""Checks that decide whether a table can be used, and a summary of what was found.

Every problem that makes the table unusable raises one DataError naming the file, the
column and up to three example rows (as file line numbers for CSV, where the header is
line 1), so the user can open the file at the right place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from fraudctl.config import SchemaParams
from fraudctl.data.schema import Schema, resolve_schema
from fraudctl.errors import DataError

EXAMPLES = 3


@dataclass
class ValidationSummary:
    """What validation saw; rendered by the CLI and stored in reports/data.json."""

    source: str
    rows_read: int
    columns: int
    features: int
    duplicates_found: int
    duplicates_dropped: int
    rows_kept: int
    frauds: int
    fraud_rate: float
    extra_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _row_labels(source: str, positions: np.ndarray) -> str:
    """Human row references: CSV line numbers (header = line 1) or 1-based parquet rows."""
    is_csv = source.lower().endswith((".csv", ".csv.gz"))
    shown = [f"line {p + 2}" if is_csv else f"row {p + 1}" for p in positions[:EXAMPLES]]
    more = len(positions) - EXAMPLES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _fail(source: str, column: str, problem: str, positions: np.ndarray) -> DataError:
    return DataError(f"{source}: column {column!r}: {problem} at {_row_labels(source, positions)}")


def _as_numbers(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    converted = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(converted.isna().to_numpy() & values.notna().to_numpy())
    if bad.size:
        example = values.iloc[bad[0]]
        raise _fail(
            source, column, f"expected numbers, found non-numeric values such as {example!r}", bad
        )
    return converted.astype("float64")


def validate_table(
    frame: pd.DataFrame,
    params: SchemaParams,
    source: str,
    drop_duplicates: bool = True,
    require_target: bool = True,
) -> tuple[pd.DataFrame, Schema, ValidationSummary]:
    """Check a raw table against the schema; return the clean table in schema order.

    ``require_target=False`` accepts unlabelled batches (scoring, drift checks): the label
    column may then be absent, but if present it is checked like any other.
    """
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{source}: the table has no rows")
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    schema = resolve_schema(params, frame.columns)
    labelled = require_target or schema.target in frame.columns
    required = [c for c in schema.required if labelled or c != schema.target]

    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(required)}"
            " (set data.schema in params.yaml if your columns are named differently)"
        )
    extra = [c for c in frame.columns if c not in required]
    if not schema.features:
        raise DataError(f"{source}: no feature columns besides time, amount and target")

    clean = pd.DataFrame(index=frame.index)
    for column in (c for c in schema.numeric if c in required):
        numbers = _as_numbers(frame, column, source)
        values = numbers.to_numpy()
        nan = np.flatnonzero(np.isnan(values))
        if nan.size:
            raise _fail(source, column, f"{nan.size} missing value(s) (NaN or empty)", nan)
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            raise _fail(source, column, "infinite value(s)", infinite)
        clean[column] = numbers
    if schema.group:
        groups = frame[schema.group]
        nan = np.flatnonzero(groups.isna().to_numpy())
        if nan.size:
            raise _fail(source, schema.group, "missing group value(s)", nan)
        clean[schema.group] = groups.astype("string")

    negative = np.flatnonzero(clean[schema.amount].to_numpy() < 0)
    if negative.size:
        raise _fail(source, schema.amount, "negative amount(s); amounts must be >= 0", negative)
    if not labelled:
        summary = ValidationSummary(
            source=source,
            rows_read=len(frame),
            columns=len(frame.columns),
            features=len(schema.features),
            duplicates_found=0,
            duplicates_dropped=0,
            rows_kept=len(clean),
            frauds=0,
            fraud_rate=0.0,
            extra_columns=extra,
        )
        return clean[required], schema, summary
    labels = clean[schema.target].to_numpy()
    not_binary = np.flatnonzero((labels != 0) & (labels != 1))
    if not_binary.size:
        example = labels[not_binary[0]]
        raise _fail(source, schema.target, f"labels must be 0 or 1, found {example:g}", not_binary)
    clean[schema.target] = clean[schema.target].astype("int8")
    classes = np.unique(labels)
    if classes.size < 2:
        raise DataError(
            f"{source}: column {schema.target!r} holds a single class ({int(classes[0])}); "
            "a fraud model needs both frauds (1) and legitimate transactions (0)"
        )

    duplicated = clean.duplicated(keep="first").to_numpy()
    duplicates = int(duplicated.sum())
    if drop_duplicates and duplicates:
        clean = clean.loc[~duplicated].reset_index(drop=True)
    frauds = int(clean[schema.target].sum())
    summary = ValidationSummary(
        source=source,
        rows_read=len(frame),
        columns=len(frame.columns),
        features=len(schema.features),
        duplicates_found=duplicates,
        duplicates_dropped=duplicates if drop_duplicates else 0,
        rows_kept=len(clean),
        frauds=frauds,
        fraud_rate=frauds / len(clean),
        extra_columns=extra,
    )
    return clean[list(schema.required)], schema, summary
