"""Stage ``fairness`` (``fraudctl experiment fairness``): group metrics with fairlearn, a
mitigation and SHAP explanations, logged as one run of the ``fraud-fairness`` experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fraudctl import tracking
from fraudctl.config import Params
from fraudctl.experiments.fairness import FairnessResult, run_fairness
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

EXPERIMENT = "fraud-fairness"


def run(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> FairnessResult:
    settings = params.experiments.fairness

    def log(directory: Path, metrics: dict[str, Any]) -> None:
        with tracking.run(params.tracking, EXPERIMENT, run_name="fairness"):
            tracking.log_params(
                {
                    "group_column": metrics["group_column"],
                    "mitigation": settings.mitigation,
                    "shap_rows": settings.shap_rows,
                }
            )
            tracking.log_metrics(
                {
                    **{k: v for k, v in metrics["disparity"].items() if np.isfinite(v)},
                    "checks_passed": float(metrics["checks"]["passed"]),
                }
            )
            tracking.log_artifacts(directory, "fairness")

    return run_fairness(settings, params.base.seed, paths, progress, on_written=log)
