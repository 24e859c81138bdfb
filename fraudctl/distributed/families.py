"""The families that train on Dask collections, and how: the Dask engine's own table.

A family trains on ``compute.engine: dask`` when it has an entry here: a factory that takes
the local family's build context and a Dask client and returns an estimator that fits on
Dask collections and has ``to_local()``. The local families registry knows nothing of Dask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fraudctl.model.families import BuildContext, family


def _lightgbm_on_dask(context: BuildContext, client: Any) -> Any:
    """LightGBM's own distributed training, with the local model's settings (the
    workers' thread counts come from the cluster, so n_jobs is left out)."""
    from lightgbm.dask import DaskLGBMClassifier

    settings = {
        k: v for k, v in family("lightgbm").build(context).get_params().items() if k != "n_jobs"
    }
    return DaskLGBMClassifier(client=client, **settings)


DASK_FAMILIES: dict[str, Callable[[BuildContext, Any], Any]] = {"lightgbm": _lightgbm_on_dask}
