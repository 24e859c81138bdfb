"""Facts about a table's rows that the column checks of :mod:`fraudctl.data.validate` share:
how a message points at rows, and numbering rows without copying them.

Every refusal is one DataError naming the file, the column (or id) and up to three rows,
as CSV line numbers (the header is line 1) or 1-based parquet rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.errors import DataError

EXAMPLES = 3


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
