"""Facts about a table's rows that the column checks of :mod:`fraudctl.data.validate` share:
how a message points at rows, numbering rows without copying them, transactions that
share an id, and numbers no measurement produces.

Every refusal is one DataError naming the file, the column (or id) and up to three rows,
as CSV line numbers (the header is line 1) or 1-based parquet rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.errors import DataError

EXAMPLES = 3
# The column that names a transaction wherever fraudctl meets one (serving, labels, the
# online store); a raw log may carry it, and then it must name one transaction.
TRANSACTION_ID = "transaction_id"
# A value a million times the bulk of its column (its 99th-percentile magnitude, or 1 for a
# column of small numbers) is an export mistake or a sentinel such as 1e308, never a
# measurement: see absurd_values.
ABSURD_FACTOR = 1e6
BULK_QUANTILE = 0.99


def row_labels(source: str, positions: np.ndarray) -> str:
    """Human row references: CSV line numbers (header = line 1) or 1-based parquet rows."""
    is_csv = source.lower().endswith((".csv", ".csv.gz"))
    shown = [f"line {p + 2}" if is_csv else f"row {p + 1}" for p in positions[:EXAMPLES]]
    more = len(positions) - EXAMPLES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def fail(source: str, column: str, problem: str, positions: np.ndarray) -> DataError:
    return DataError(f"{source}: column {column!r}: {problem} at {row_labels(source, positions)}")


def renumbered(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The rows numbered 0..n-1 and the names stripped, without copying the data (a million
    rows of thirty columns is 240 MB, and fresh memory is slow on a VM); two columns of one
    name (a parquet file may hold them, or ``Amount`` beside `` Amount``) are refused."""
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        frame = frame.reset_index(drop=True)
    frame = frame.copy(deep=False)  # the caller's frame keeps its own column names
    frame.columns = [str(c).strip() for c in frame.columns]
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise DataError(f"{source}: repeated column name(s): {', '.join(repeated)}")
    return frame


def refuse_conflicting_ids(frame: pd.DataFrame, source: str) -> None:
    """One ``transaction_id`` on two different rows is two transactions claiming one name:
    labels, the online store and the audit log would each keep a different one. Exact
    repeats of a whole row are the same transaction (``data.drop_duplicates`` handles
    them) and pass."""
    if TRANSACTION_ID not in frame.columns:
        return
    ids = frame[TRANSACTION_ID]
    shared = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    if not shared.any():
        return
    candidates = frame.loc[shared]
    distinct = candidates.loc[~candidates.duplicated(keep="first")]
    clashing = distinct[TRANSACTION_ID].duplicated(keep=False).to_numpy()
    if not clashing.any():
        return
    first = distinct[TRANSACTION_ID].to_numpy()[np.flatnonzero(clashing)[0]]
    rows = np.flatnonzero((ids == first).to_numpy())
    others = int(distinct.loc[clashing, TRANSACTION_ID].nunique()) - 1
    also = f"; {others} more id(s) are shared the same way" if others else ""
    shown_id = repr(first.item() if isinstance(first, np.generic) else first)[:60]
    raise DataError(
        f"{source}: column {TRANSACTION_ID!r}: id {shown_id} names {rows.size} different rows "
        f"({row_labels(source, rows)}); a transaction id must name one transaction{also}"
    )


def absurd_values(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Positions of finite numbers beyond ABSURD_FACTOR times the column's bulk, and that
    bound. The bulk is the 99th percentile of the magnitudes (so up to 1% of wild values
    cannot hide one another), at least 1 (so a column of zeros and ones, or of rates, is
    not held to a bound below a million). The widest column of the synthetic ULB-shaped
    table reaches 34 times its bulk, of the generated transaction log 7 times; meanwhile
    float32 estimators (XGBoost, CatBoost, the network) read a 1e308 as infinity, and
    squaring it for a variance overflows even float64."""
    magnitudes = np.abs(values)
    floor_bound = ABSURD_FACTOR  # no column's bound is lower: most columns stop here
    if not (magnitudes > floor_bound).any():
        return np.zeros(0, dtype=np.int64), floor_bound
    bulk = float(np.quantile(magnitudes, BULK_QUANTILE, method="lower"))  # no blend with the max
    bound = ABSURD_FACTOR * max(bulk, 1.0)
    return np.flatnonzero(magnitudes > bound), bound


def refuse_absurd_values(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    """Refuse a finite but absurd number (a 1e308) in a numeric input column."""
    for column in columns:
        bad, bound = absurd_values(frame[column].to_numpy(dtype=np.float64))
        if bad.size:
            example = frame[column].to_numpy()[bad[0]]
            raise fail(
                source,
                column,
                f"absurd value {example:g}: more than {ABSURD_FACTOR:g} times the column's "
                f"typical magnitude (beyond ±{bound:.3g}); fix or drop the row(s), or leave "
                "the column out (data.schema.exclude)",
                bad,
            )


def finite(numbers: pd.Series, column: str, source: str) -> pd.Series:
    """``numbers`` unchanged, or one error naming the rows that hold NaN or an infinity."""
    values = numbers.to_numpy()
    if finite_bounds(values) is not None:
        return numbers
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        raise fail(source, column, f"{nan.size} missing value(s) (NaN or empty)", nan)
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        raise fail(source, column, "infinite value(s)", infinite)
    return numbers


def finite_bounds(values: np.ndarray) -> tuple[float, float] | None:
    """The smallest and largest value when every value is finite, else None: two reductions
    without a temporary array, where a NaN or an infinity shows in the result (a million
    rows are judged in a millisecond; the row-by-row search runs only on failure)."""
    if values.size == 0:
        return 0.0, 0.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if np.isfinite(low) and np.isfinite(high) else None
