"""The Dask engine's own settings: the ``compute.dask`` block of params.yaml.

Checked by this engine (not by the params loader, which knows no engine) when a stage loads
params; :func:`dask_settings` reads the block with its defaults.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from fraudctl.config import ComputeParams
from fraudctl.sections import _Section

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)\s*$")


def _memory(text: str) -> str:
    if not _MEMORY.match(text):
        raise ValueError(f"expected a size such as 2GiB or 512MiB, got {text!r}")
    return text


class DaskParams(_Section):
    """``local-cluster`` starts a cluster on this machine; a ``tcp://host:8786`` address joins
    a running one (e.g. the Helm chart in deploy/dask)."""

    scheduler: Annotated[str, Field(pattern=r"^(local-cluster|tcp://[^\s:/]+:\d+)$")] = (
        "local-cluster"
    )
    workers: Annotated[int, Field(ge=1, le=256)] = 2
    threads_per_worker: Annotated[int, Field(ge=1, le=64)] = 1
    memory_per_worker: Annotated[str, AfterValidator(_memory)] = "2GiB"
    # consecutive daily partitions computed by one task (features, score): more rows per task
    # read each day's history window fewer times; fewer keep a worker's memory smaller
    rows_per_task: Annotated[int, Field(ge=1_000)] = 500_000
    # LightGBM trains in memory: beyond this many train rows every fraud is kept and the
    # legitimate rows are sampled (the threshold is still chosen on all validation rows)
    max_train_rows: Annotated[int, Field(ge=10_000)] = 4_000_000


def dask_settings(compute: ComputeParams) -> DaskParams:
    """The ``compute.dask`` block with its defaults (a ConfigError names a bad key)."""
    from fraudctl.config import check_block

    return check_block(DaskParams, compute.blocks.get("dask", {}), "compute.dask")
