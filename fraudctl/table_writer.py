"""Writing a table's rows with new columns computed a slice at a time: ``fraudctl score``
appends a probability and a decision to every input row.

The file appears whole or not at all (:func:`fraudctl.io.atomic_path`). A parquet file is
written one row group per slice by a background thread, so encoding one slice (a third
of the command's work on a million rows) overlaps computing the next; the input's columns
go to Arrow once, without a copy. Float columns are not dictionary-encoded: a million
distinct floats fill the dictionary page, are re-encoded plainly anyway, and the attempt
cost a quarter of the write. Text and integer columns keep their dictionaries.
"""

from __future__ import annotations

import contextlib
import gzip
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudctl.io import atomic_path

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Write = Callable[[slice, dict[str, "np.ndarray"]], None]
_DONE = object()


@contextlib.contextmanager
def table_with_columns(path: Path, frame: pd.DataFrame) -> Iterator[Write]:
    """Yield ``write(rows, columns)``: ``frame``'s ``rows`` (a slice, in order, covering the
    frame) with ``columns`` (name -> values) added, or replacing a column of that name.
    CSV (optionally gzipped) or parquet, by the path's suffix."""
    with atomic_path(path) as tmp:
        if path.name.lower().endswith((".parquet", ".pq")):
            with _parquet_pieces(tmp, frame) as write:
                yield write
        else:
            with _csv_pieces(tmp, frame, gzipped=path.name.lower().endswith(".gz")) as write:
                yield write


@contextlib.contextmanager
def _csv_pieces(tmp: Path, frame: pd.DataFrame, gzipped: bool) -> Iterator[Write]:
    opener: Any = gzip.open if gzipped else open
    with opener(tmp, "wt", encoding="utf-8", newline="") as handle:
        first = True

        def write(rows: slice, columns: dict[str, np.ndarray]) -> None:
            nonlocal first
            piece = frame.iloc[rows].copy(deep=False)  # new columns only, no copy of the rows
            for name, values in columns.items():
                piece[name] = values
            piece.to_csv(handle, index=False, header=first)
            first = False

        yield write


@contextlib.contextmanager
def _parquet_pieces(tmp: Path, frame: pd.DataFrame) -> Iterator[Write]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pieces: queue.Queue[Any] = queue.Queue(maxsize=2)  # at most two slices waiting
    failed: list[BaseException] = []

    def encode() -> None:
        writer = None
        try:
            while (piece := pieces.get()) is not _DONE:
                if writer is None:
                    dictionary = [f.name for f in piece.schema if not pa.types.is_floating(f.type)]
                    writer = pq.ParquetWriter(tmp, piece.schema, use_dictionary=dictionary)
                writer.write_table(piece, row_group_size=piece.num_rows)
        except BaseException as exc:  # reported by the caller's next write or at the end
            failed.append(exc)
            while pieces.get() is not _DONE:  # let the caller finish putting
                pass
        finally:
            if writer is not None:
                writer.close()

    def write(rows: slice, columns: dict[str, np.ndarray]) -> None:
        if failed:
            raise failed[0]
        piece = table.slice(rows.start, rows.stop - rows.start)
        for name, values in columns.items():
            array = pa.array(values)
            if name in piece.column_names:
                piece = piece.set_column(piece.column_names.index(name), name, array)
            else:
                piece = piece.append_column(name, array)
        pieces.put(piece)

    thread = threading.Thread(target=encode, name="parquet-writer", daemon=True)
    thread.start()
    try:
        yield write
    finally:
        pieces.put(_DONE)
        thread.join()
    if failed:
        raise failed[0]
