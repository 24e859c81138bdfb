"""Stage ``features`` (``fraudctl features build``): the declared history features of every
prepared row, point-in-time correct, in this process or partition by partition on Dask."""

from __future__ import annotations

from fraudctl.config import Params
from fraudctl.features.build import FeaturesResult
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet


def run(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> FeaturesResult:
    if params.compute.engine == "dask":
        from fraudctl.distributed.features import build_features_partitioned
        from fraudctl.distributed.settings import dask_settings

        return build_features_partitioned(
            dask_settings(params.compute), params.features, paths, progress
        )
    from fraudctl.features.build import build_features

    return build_features(params.features, paths, progress)
