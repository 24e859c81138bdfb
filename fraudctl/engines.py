"""Which code runs each engine-dependent stage: one table, read by the CLI (and the tests
and benchmarks that run stages in-process).

The local stages (``data/``, ``features/``, ``model/``) and their Dask counterparts
(``distributed/``) are siblings: the local code never imports the Dask code. Adding an
engine is one folder with the same stage signatures and one row per stage below.
"""

from __future__ import annotations

import importlib
from typing import Any

from fraudctl.config import Params
from fraudctl.errors import ConfigError
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

# (stage, engine) -> "module:function"
STAGES: dict[tuple[str, str], str] = {
    ("prepare", "local"): "fraudctl.data.prepare:prepare",
    ("prepare", "dask"): "fraudctl.distributed.prepare:prepare_partitions",
    ("features", "local"): "fraudctl.features.build:build_features",
    ("features", "dask"): "fraudctl.distributed.features:build_features_partitioned",
    ("select", "local"): "fraudctl.model.train:select",
    ("select", "dask"): "fraudctl.distributed.train:select_partitioned",
    ("check", "dask"): "fraudctl.distributed.train:check_supported",
}


def implementation(stage: str, engine: str) -> Any:
    """The function that runs ``stage`` on ``engine`` (None where an engine has no step)."""
    target = STAGES.get((stage, engine))
    if target is None:
        if any(s == stage for s, _ in STAGES) and stage != "check":
            engines = sorted({e for s, e in STAGES if s == stage})
            raise ConfigError(
                f"compute.engine: {engine!r} cannot run {stage}; known: {', '.join(engines)}"
            )
        return None
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def prepare(params: Params, paths: ProjectPaths, source: str | None = None) -> Any:
    """Stage ``prepare`` on the configured engine; ``source`` overrides ``data.source``."""
    run = implementation("prepare", params.compute.engine)
    if params.compute.engine == "local":
        return run(params, paths, source)
    return run(params, paths, source or params.data.source)


def build_features(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> Any:
    return implementation("features", params.compute.engine)(params, paths, progress)


def train(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> Any:
    from fraudctl.model.train import train as train_with

    check = implementation("check", params.compute.engine)
    if check is not None:
        check(params)  # before any work
    return train_with(params, paths, progress, implementation("select", params.compute.engine))
