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
from fraudctl.data.clock import check_unit
from fraudctl.data.rows import fail as _fail
from fraudctl.data.rows import (
    finite,
    finite_bounds,
    refuse_absurd_values,
    refuse_conflicting_ids,
    renumbered,
)
from fraudctl.data.schema import Schema, resolve_schema
from fraudctl.errors import DataError


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


def _all_decimals(values: pd.Series) -> bool:
    from decimal import Decimal

    present = values.dropna()
    return (
        len(present) > 0
        and all(isinstance(v, Decimal) for v in present.head(1000))
        and all(isinstance(v, Decimal) for v in present)
    )


def shown(value: object, limit: int = 60) -> str:
    """A value quoted in a message, cut short: a 5 MB cell must not become the message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_numbers(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = frame[column]
    if values.dtype == object and _all_decimals(values):  # parquet decimal128 (money)
        return values.astype("float64")
    if pd.api.types.is_bool_dtype(values):
        raise _fail(
            source, column, "expected numbers, found booleans (true/false)", np.arange(len(values))
        )
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64", copy=False)  # read, never written in place
    if pd.api.types.is_datetime64_any_dtype(values):
        raise _fail(source, column, "expected numbers, found dates", np.arange(len(values)))
    converted = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(converted.isna().to_numpy() & values.notna().to_numpy())
    if bad.size:
        example = values.iloc[bad[0]]
        raise _fail(
            source,
            column,
            f"expected numbers, found non-numeric values such as {shown(example)} (a text column "
            "belongs in data.schema.categorical or data.schema.exclude)",
            bad,
        )
    if not _is_csv(source):
        # A typed file that stores numbers as text was written wrongly: say so, do not guess.
        raise _fail(
            source,
            column,
            "numbers stored as text; write the column with a numeric type",
            np.flatnonzero(values.notna().to_numpy()),
        )
    return converted.astype("float64")


def _is_csv(source: str) -> bool:
    return source.lower().endswith((".csv", ".csv.gz"))


def _labels(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """The target; booleans are accepted as 0/1 (a common export), everything else numeric."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    return _as_numbers(frame, column, source)


OFFSET = r"(?:Z|[+-]\d\d:?\d\d)\s*$"


def _same_offset_kind(text: pd.Series, column: str, source: str) -> None:
    """Refuse a column that mixes timestamps with and without a UTC offset: the ones
    without would be read as UTC, which for local times is silently wrong by hours."""
    present = text.notna().to_numpy()
    with_offset = text.str.contains(OFFSET, regex=True, na=False).to_numpy()
    if with_offset.any() and (present & ~with_offset).any():
        naive = np.flatnonzero(present & ~with_offset)
        example = text.iloc[int(np.flatnonzero(with_offset)[0])]
        raise _fail(
            source,
            column,
            f"timestamps without a UTC offset among ones with an offset (e.g. {shown(example)}); "
            "give every timestamp an offset, or none",
            naive,
        )


def _time_column(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """A datetime (kept as datetime, in UTC-naive form) or a numeric clock; never guessed.

    Text is parsed as ISO 8601 dates; a value that does not parse is reported with its row.
    """
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        missing = np.flatnonzero(values.isna().to_numpy())
        if missing.size:
            raise _fail(source, column, "missing timestamp(s)", missing)
        return values.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return finite(_as_numbers(frame, column, source), column, source)
    if pd.api.types.is_bool_dtype(values):
        raise _fail(source, column, "expected timestamps, found booleans", np.arange(len(values)))
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().mean() > 0.5:  # mostly numbers: a numeric clock with a stray value
        bad = np.flatnonzero(numbers.isna().to_numpy() & values.notna().to_numpy())
        if bad.size:
            raise _fail(
                source,
                column,
                f"expected numeric seconds, found {shown(values.iloc[bad[0]])}",
                bad,
            )
        return finite(numbers.astype("float64"), column, source)
    text = values.astype("string")
    _same_offset_kind(text, column, source)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        example = values.iloc[bad[0]]
        raise _fail(
            source,
            column,
            f"unparseable timestamp {shown(example)}; expected ISO 8601 "
            "(e.g. 2026-04-01 13:45:00) or numeric seconds",
            bad,
        )
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _check_amounts(amounts: pd.Series, column: str, source: str, max_amount: float) -> None:
    values = amounts.to_numpy()
    for bad, problem in (
        (values < 0, "negative amount(s); amounts must be >= 0"),
        (values > max_amount, f"implausible amount(s) above {max_amount:g} (data.max_amount)"),
    ):
        if bad.any():
            raise _fail(source, column, problem, np.flatnonzero(bad))


def _entity_ids(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = frame[column]
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        raise _fail(source, column, "missing entity id(s); every transaction needs one", missing)
    if pd.api.types.is_float_dtype(values):
        fractional = np.flatnonzero(values.to_numpy() != np.floor(values.to_numpy()))
        if fractional.size:
            raise _fail(
                source,
                column,
                "entity ids must be text or whole numbers, found fractions",
                fractional,
            )
        return values.astype("int64")
    if pd.api.types.is_bool_dtype(values):
        raise _fail(source, column, "entity ids must be text or whole numbers", np.arange(1))
    return values


def _categories(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Text or integer codes; a missing category is allowed (it scores as 'unknown')."""
    values = frame[column]
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy()
        fractional = np.flatnonzero(~np.isnan(numbers) & (numbers != np.floor(numbers)))
        if fractional.size:
            raise _fail(
                source,
                column,
                f"categorical column holds a number with a fraction ({numbers[fractional[0]]!r});"
                " expected text or whole-number codes",
                fractional,
            )
        return values.astype("Int64").astype("string")
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        raise _fail(source, column, "expected text or whole-number codes", np.arange(1))
    return values.astype("string")


def validate_table(
    frame: pd.DataFrame,
    params: SchemaParams,
    source: str,
    drop_duplicates: bool = True,
    require_target: bool = True,
    max_amount: float = 1e9,
) -> tuple[pd.DataFrame, Schema, ValidationSummary]:
    """Check a raw table against the schema; return the clean table in schema order.

    ``require_target=False`` accepts unlabelled batches (scoring, drift checks): the label
    column may then be absent, but if present it is checked like any other.
    """
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{source}: the table has no rows")
    frame = renumbered(frame, source)
    schema = resolve_schema(params, frame.columns)
    labelled = require_target or schema.target in frame.columns
    required = list(schema.columns(labelled))
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
    clean[schema.time] = _time_column(frame, schema.time, source)
    check_unit(clean[schema.time], schema, source)
    for column in schema.entities.values():
        clean[column] = _entity_ids(frame, column, source)
    for column in schema.features:
        if column in schema.categorical:
            clean[column] = _categories(frame, column, source)
    for column in (c for c in schema.numeric if c in required):
        reader = _labels if column == schema.target else _as_numbers
        clean[column] = finite(reader(frame, column, source), column, source)
    if schema.group:
        groups = frame[schema.group]
        nan = np.flatnonzero(groups.isna().to_numpy())
        if nan.size:
            raise _fail(source, schema.group, "missing group value(s)", nan)
        clean[schema.group] = groups.astype("string")
    if schema.analyst_label in required:  # 1, 0 or empty: most are never reviewed
        clean[schema.analyst_label] = _partial_labels(frame, schema.analyst_label, source)

    if schema.amount:
        _check_amounts(clean[schema.amount], schema.amount, source, max_amount)
    features = [c for c in schema.numeric if c in schema.features and c != schema.amount]
    refuse_absurd_values(clean, features, source)  # the amount has data.max_amount
    refuse_conflicting_ids(frame, source)
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

    # Judged on the whole row as read: two customers paying the same amount at the same
    # second are two transactions, not one.
    duplicated = frame.duplicated(keep="first").to_numpy()
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
    return clean[required], schema, summary


def validate_model_input(
    frame: pd.DataFrame,
    *,
    time: str | None,
    entities: list[str],
    numeric: list[str],
    categorical: list[str],
    amount: str | None,
    target: str,
    source: str,
    max_amount: float = 1e9,
    limits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Check raw rows against a saved model's own contract (its transform's raw columns).

    Used where the model, not params.yaml, is the authority: ``fraudctl score`` and history
    files. Labels are optional; extra columns are kept untouched; ``time`` None: a model
    that reads no time (its time column, if any, is one of those extra columns).
    ``limits`` bound each numeric column's magnitude (the contract's).
    """
    limits = limits or {}
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{source}: the table has no rows")
    frame = renumbered(frame, source)
    required = list(
        dict.fromkeys(
            [*([time] if time else []), *entities, *numeric, *categorical]
            + ([amount] if amount else [])
        )
    )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; the model reads "
            f"{', '.join(required)}"
        )
    # The checked columns, then one frame of them and the untouched others (no copies)
    checked = {time: _time_column(frame, time, source)} if time else {}
    for column in entities:
        checked[column] = _entity_ids(frame, column, source)
    for column in categorical:
        checked[column] = _categories(frame, column, source)
    for column in numeric + ([amount] if amount and amount not in numeric else []):
        checked[column] = finite(_as_numbers(frame, column, source), column, source)
    if amount:
        _check_amounts(checked[amount], amount, source, max_amount)
    for column, limit in limits.items():
        if column not in frame.columns:
            continue
        values = checked.get(column, frame[column]).to_numpy(dtype=np.float64)
        bounds = finite_bounds(values)
        if bounds is not None and -limit <= bounds[0] and bounds[1] <= limit:
            continue
        beyond = np.flatnonzero(np.abs(values) > limit)
        if beyond.size:
            raise _fail(
                source,
                column,
                f"values beyond ±{limit:g} (1,000 times the largest magnitude in the model's "
                "training data: a unit or export mistake?)",
                beyond,
            )
    if target in frame.columns:
        checked[target] = _partial_labels(frame, target, source)
    return pd.DataFrame({c: checked.get(c, frame[c]) for c in frame.columns}, copy=False)


def _partial_labels(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Labels where known: 0, 1 or empty (a batch to score, analysts' decisions)."""
    labels = pd.to_numeric(frame[column], errors="coerce")
    wrong = np.flatnonzero(labels.notna().to_numpy() & ~labels.isin([0, 1]).to_numpy())
    if wrong.size:
        raise _fail(source, column, "labels must be 0, 1 or empty", wrong)
    return labels
