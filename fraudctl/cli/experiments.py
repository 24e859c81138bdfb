"""``fraudctl experiment poison | fairness | drift``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fraudctl.cli.common import (
    ParamsOption,
    console,
    emissions_of,
    experiment_app,
    fmt,
    load_project,
    progress,
    user_errors,
)
from fraudctl.paths import DEFAULT_PARAMS_FILE


@experiment_app.command("poison")
@user_errors
def experiment_poison(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Label-poisoning attacks x levels x seeds, with and without the defence."""
    params, paths = load_project(params_file)
    from fraudctl.stages import poison as stage

    with emissions_of("poison", params, paths), progress("poisoning") as step:
        result = stage.run(params, paths, progress=step)
    table = Table(
        "attack",
        "level",
        "changed",
        "PR-AUC undefended",
        "PR-AUC defended",
        title="test PR-AUC, mean ± sd over seeds",
        title_justify="left",
    )
    for attack, cells in result.outcome.attacks.items():
        for cell in cells:
            u, d = cell.undefended["pr_auc"], cell.defended["pr_auc"]
            table.add_row(
                attack,
                cell.level,
                f"{cell.labels_changed:,}",
                f"{u.mean:.3f} ± {u.std:.3f}",
                f"{d.mean:.3f} ± {d.std:.3f}",
            )
    console.print(table)
    console.print(
        f"[green]✓[/] {result.headline} ({result.fits} fits); "
        f"see {paths.experiment_dir('poison') / 'summary.md'}"
    )


@experiment_app.command("fairness")
@user_errors
def experiment_fairness(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Group metrics with fairlearn, a mitigation, and SHAP explanations."""
    params, paths = load_project(params_file)
    from fraudctl.stages import fairness as stage

    with emissions_of("fairness", params, paths), progress("fairness") as step:
        result = stage.run(params, paths, progress=step)
    outcome = result.outcome
    table = Table(
        "group",
        "rows",
        "frauds",
        "recall",
        "FPR",
        "precision",
        title=f"by {outcome.group_column}",
        title_justify="left",
    )
    for row in outcome.groups:
        table.add_row(
            row.group,
            fmt(row.count),
            fmt(row.frauds),
            fmt(row.recall),
            fmt(row.false_positive_rate),
            fmt(row.precision),
        )
    console.print(table)
    console.print(f"top SHAP features: {', '.join(outcome.top_features[:5])}")
    mark = "[green]✓[/]" if outcome.passed else "[yellow]![/]"
    console.print(f"{mark} {result.headline}; see {paths.experiment_dir('fairness') / 'report.md'}")


@experiment_app.command("drift")
@user_errors
def experiment_drift(
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
    current: Annotated[
        Path | None,
        typer.Option(help="A newer batch (CSV, CSV.gz or parquet) instead of the test split."),
    ] = None,
    simulate: Annotated[
        bool, typer.Option(help="Shift the current batch on purpose, to see the gate fire.")
    ] = False,
    fail_on_drift: Annotated[
        bool, typer.Option(help="Exit with code 1 when the drift gate fails (for schedulers).")
    ] = False,
) -> None:
    """Data and prediction drift (Evidently, PSI, KS) with a retraining gate."""
    params, paths = load_project(params_file)
    from fraudctl.stages import drift as stage

    with emissions_of("drift", params, paths), progress("drift") as step:
        result = stage.run(params, paths, current_path=current, simulate=simulate, progress=step)
    mark = "[red]✗[/]" if result.drift_detected else "[green]✓[/]"
    console.print(f"{mark} {result.headline}")
    console.print(f"see {result.directory / 'summary.md'} and report.html")
    if result.drift_detected and fail_on_drift:
        raise typer.Exit(1)
