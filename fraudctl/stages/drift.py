"""Stage ``drift`` (``fraudctl experiment drift``): Evidently, PSI and KS between the train
split and the newest data, and the drift gate, logged as one run of ``fraud-drift``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fraudctl import tracking
from fraudctl.config import Params
from fraudctl.experiments.drift import DriftResult, run_drift
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

EXPERIMENT = "fraud-drift"


def run(
    params: Params,
    paths: ProjectPaths,
    current_path: Path | None = None,
    simulate: bool = False,
    progress: Progress = quiet,
) -> DriftResult:
    settings = params.experiments.drift

    def log(directory: Path, metrics: dict[str, Any]) -> None:
        with tracking.run(params.tracking, EXPERIMENT, run_name="drift"):
            tracking.log_params(
                {"current": metrics["current"], "simulate": simulate, "max_rows": settings.max_rows}
            )
            tracking.log_metrics(
                {
                    "drifted_share": metrics["drifted_share"],
                    "prediction_psi": metrics["prediction"]["psi"],
                    "drift_detected": float(metrics["drift_detected"]),
                }
            )
            tracking.log_artifacts(directory, "drift")

    return run_drift(
        settings,
        params.data,
        params.base.seed,
        paths,
        current_path=current_path,
        simulate=simulate,
        progress=progress,
        on_written=log,
    )
