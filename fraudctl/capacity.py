"""Refuse, before reading, work the local engine cannot hold in memory.

A clear error naming ``compute.engine: dask`` is better than the kernel's OOM killer in the
middle of a stage. The estimates are bytes per table cell (8-byte values) times how many
copies a stage keeps alive at its peak, measured by benchmarks/dask.py on 5 M rows.
"""

from __future__ import annotations

from fraudctl.errors import DataError

CELL = 8
PREPARE_COPIES = 6  # the table, its validated copy, its time-sorted copy, the split frames
FEATURES_COPIES = 2.5  # the raw rows in time order and the feature matrix
TRAIN_COPIES = 3  # the feature frames and LightGBM's own dataset


def require_memory(cells: float, copies: float, what: str) -> None:
    import psutil

    needed = cells * CELL * copies
    available = psutil.virtual_memory().available
    if needed > available:
        raise DataError(
            f"{what}: about {needed / 2**30:.1f} GiB is needed in memory and "
            f"{available / 2**30:.1f} GiB is available; set compute.engine: dask in "
            "params.yaml to run partition by partition (docs/dask.md)"
        )
