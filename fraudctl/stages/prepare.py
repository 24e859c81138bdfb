"""Stage ``prepare`` (``fraudctl data``): ingest, validate, de-duplicate and time-split the
data into data/prepared/, in this process or partition by partition on Dask."""

from __future__ import annotations

from fraudctl.config import Params
from fraudctl.data.prepare import PrepareResult, PrepareSettings
from fraudctl.paths import ProjectPaths


def prepare_settings(params: Params) -> PrepareSettings:
    return PrepareSettings(
        data=params.data,
        split=params.split,
        seed=params.base.seed,
        leak_guard_allow=tuple(params.features.leak_guard_allow),
    )


def run(params: Params, paths: ProjectPaths, source: str | None = None) -> PrepareResult:
    """The stage on the configured engine; ``source`` overrides ``data.source``."""
    settings = prepare_settings(params)
    if params.compute.engine == "dask":
        from fraudctl.distributed.prepare import prepare_partitions
        from fraudctl.distributed.settings import dask_settings

        return prepare_partitions(
            dask_settings(params.compute), settings, paths, source or params.data.source
        )
    from fraudctl.data.prepare import prepare

    return prepare(settings, paths, source)
