"""Stage ``poison`` (``fraudctl experiment poison``): the label-poisoning grid, each fit a
nested MLflow run under one parent run of the ``fraud-poisoning`` experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fraudctl import tracking
from fraudctl.config import Params
from fraudctl.experiments.poison import Cell, PoisonResult, PoisonSettings, run_poisoning
from fraudctl.model.families import model_spec
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

EXPERIMENT = "fraud-poisoning"


def poison_settings(params: Params) -> PoisonSettings:
    return PoisonSettings(
        poison=params.experiments.poison,
        model=model_spec(params.experiments.poison.model, "experiments.poison.model"),
        seed=params.base.seed,
        threshold=params.threshold,
        evaluate=params.evaluate,
    )


def run(params: Params, paths: ProjectPaths, progress: Progress = quiet) -> PoisonResult:
    settings = poison_settings(params)
    poison, model = settings.poison, settings.model

    def log_cell(cell: Cell) -> None:
        name = f"{cell.attack}-{cell.level:g}-seed{cell.seed}"
        with tracking.run(params.tracking, EXPERIMENT, nested=True, run_name=name):
            tracking.log_params(
                {
                    "attack": cell.attack,
                    "level": cell.level,
                    "seed": cell.seed,
                    "labels_changed": cell.labels_changed,
                    "rows_screened": cell.rows_screened,
                }
            )
            tracking.log_metrics(cell.undefended, prefix="undefended_")
            tracking.log_metrics(cell.defended, prefix="defended_")

    def log_outputs(outputs: list[Path], summary: dict[str, Any]) -> None:
        tracking.log_metrics(
            {
                "worst_pr_auc_drop": summary["worst"]["pr_auc_drop"],
                "defence_recovery": summary["worst"]["recovered"],
            }
        )
        for path in outputs:
            tracking.log_artifact(path, "poison")

    with tracking.run(params.tracking, EXPERIMENT, run_name="poison-grid"):
        tracking.log_params(
            {
                "attacks": ",".join(poison.attacks),
                "seeds": poison.seeds,
                "max_train_rows": poison.max_train_rows,
                "model": model.name,
                "defence_action": poison.defence.action,
                "defence_folds": poison.defence.folds,
                "detector_trees": poison.defence.detector_trees,
                **{f"model.{k}": v for k, v in model.hyperparameters().items()},
            }
        )
        return run_poisoning(settings, paths, progress, log_cell, log_outputs)
