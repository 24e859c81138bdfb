"""Energy and CO₂ of a stage run: measured around it, written to reports/emissions/ and
added to the training run of the model it concerns (:mod:`fraudctl.emissions`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fraudctl.config import Params
from fraudctl.emissions import Measurement, measured, record
from fraudctl.paths import ProjectPaths


@contextlib.contextmanager
def measured_stage(stage: str, params: Params, paths: ProjectPaths) -> Iterator[Measurement]:
    """CodeCarbon around a stage; its file is written only when the stage succeeded."""
    with measured(stage, params.emissions) as used:
        yield used
    record(paths, used)
    if used.as_metrics():
        log_to_training_run(params, paths, used.as_metrics(), prefix=f"{stage}_")


def log_to_training_run(
    params: Params, paths: ProjectPaths, metrics: dict[str, float], prefix: str
) -> None:
    """Metrics about the current model join the run that trained it."""
    from fraudctl import tracking
    from fraudctl.model.registry_record import read_registry_record

    run_id = read_registry_record(paths.model_dir).get("run_id")
    if run_id:
        with tracking.run(params.tracking, params.tracking.experiment, run_id=run_id):
            tracking.log_metrics(metrics, prefix=prefix)
