"""The pipeline's commands: data, features, train, evaluate, card, promote, tune, models."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from fraudctl import __version__
from fraudctl.cli.common import (
    HEADLINE,
    ParamsOption,
    app,
    console,
    emissions_of,
    features_app,
    fmt,
    load_project,
    metrics_table,
    progress,
    user_errors,
)
from fraudctl.errors import ArtifactError
from fraudctl.paths import DEFAULT_ONLINE_STORE, DEFAULT_PARAMS_FILE


@app.command()
@user_errors
def version() -> None:
    """Print the fraudctl version."""
    console.print(f"fraudctl {__version__}")


@app.command()
@user_errors
def data(
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
    source: Annotated[
        str | None,
        typer.Option(help="Override data.source: 'synthetic' or a CSV, CSV.gz or parquet path."),
    ] = None,
) -> None:
    """Ingest, validate and time-split the data (DVC stage `prepare`)."""
    params, paths = load_project(params_file)
    from fraudctl.stages import prepare as stage

    with progress("prepare") as step:
        step("reading and validating")
        result = stage.run(params, paths, source=source)
    summary = result.validation
    console.print(
        f"[green]✓[/] {summary.source}: {summary.rows_read:,} rows read, "
        f"{summary.duplicates_found:,} duplicates ({summary.duplicates_dropped:,} dropped), "
        f"{summary.frauds:,} frauds ({summary.fraud_rate:.3%}), {summary.features} features"
    )
    if summary.extra_columns:
        console.print(f"[yellow]ignored columns:[/] {', '.join(summary.extra_columns)}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    table = Table(
        "split",
        "rows",
        "frauds",
        "fraud rate",
        "time from",
        "time to",
        title=f"{params.split.method} split",
        title_justify="left",
    )
    for name, part in result.splits.items():
        table.add_row(
            name,
            f"{part.rows:,}",
            f"{part.frauds:,}",
            f"{part.fraud_rate:.3%}",
            fmt_time(part.time_min),
            fmt_time(part.time_max),
        )
    console.print(table)


def fmt_time(value: float | str) -> str:
    """Datetimes as text; numeric times as plain numbers (a year is 1994, not 1,994)."""
    if isinstance(value, str):
        return value
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}"


@features_app.command("build")
@user_errors
def features_build(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Compute the declared features for every split (DVC stage `features`)."""
    params, paths = load_project(params_file)
    from fraudctl.stages import features as stage

    with progress("features") as step:
        result = stage.run(params, paths, progress=step)
    rows = sum(result.rows.values())
    console.print(
        f"[green]✓[/] {len(result.transform.output_columns)} model inputs for {rows:,} rows "
        f"in {result.seconds:.1f} s -> {paths.features_dir}"
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


@features_app.command("materialize")
@user_errors
def features_materialize(
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
    model: Annotated[Path, typer.Option(help="The model whose features to serve.")] = Path(
        "models/model"
    ),
    store: Annotated[
        str,
        typer.Option(
            envvar="FRAUDCTL_ONLINE_STORE",
            help="sqlite:///path or redis://host:port/db (env FRAUDCTL_ONLINE_STORE).",
        ),
    ] = DEFAULT_ONLINE_STORE,
    history: Annotated[
        Path | None,
        typer.Option(help="A raw history file instead of the prepared data (all splits)."),
    ] = None,
) -> None:
    """Load the online store with the history the model was trained on (or a file)."""
    from fraudctl.stages.materialize import materialize_store

    _, paths = load_project(params_file)
    with progress("materialize") as step:
        result = materialize_store(paths, model, store, history, progress=step)
    console.print(
        f"[green]✓[/] {result.rows:,} transactions of {result.entities} entity kind(s) "
        f"loaded into {store} in {result.seconds:.1f} s"
    )


@features_app.command("labels")
@user_errors
def features_labels(
    labels_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV or parquet: transaction_id, is_fraud.")
    ],
    store: Annotated[
        str,
        typer.Option(envvar="FRAUDCTL_ONLINE_STORE", help="The online store to update."),
    ] = DEFAULT_ONLINE_STORE,
) -> None:
    """Record fraud labels that arrived (chargebacks, reviews) in the online store."""
    from fraudctl.stages.materialize import record_labels

    recorded, unknown = record_labels(labels_file, store)
    console.print(f"[green]✓[/] {recorded:,} label(s) recorded; {unknown:,} unknown transaction(s)")


@app.command()
@user_errors
def train(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Fit the model, pick its threshold on validation, save and register it (stage `train`)."""
    params, paths = load_project(params_file)
    from fraudctl.stages import train as stage

    with emissions_of("train", params, paths), progress(f"train {params.model.name}") as step:
        result = stage.run(params, paths, progress=step)
    console.print(
        f"[green]✓[/] {result.model_name} fitted on {result.train_rows:,} rows "
        f"in {result.fit_seconds:.1f} s; threshold {result.threshold.value:.4f} "
        f"({result.threshold.strategy})"
    )
    if result.threshold.note:
        console.print(f"[yellow]note:[/] {result.threshold.note}")
    console.print(metrics_table("validation", result.validation, HEADLINE))
    promotion = result.promotion
    assert promotion is not None  # train decides promotion unless told not to
    status = "[green]champion[/]" if promotion.promoted else "challenger"
    console.print(
        f"registered {params.tracking.registered_model} v{result.version} as {status}: "
        f"{promotion.reason} (run {result.run_id})"
    )


@app.command()
@user_errors
def card(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Write reports/model_card.md with bootstrap intervals (DVC stage `card`)."""
    params, paths = load_project(params_file)
    from fraudctl.stages import card as stage

    with progress("model card") as step:
        result = stage.run(params, paths, progress=step)
    where = f"; attached to {result.attached_to}" if result.attached_to else ""
    console.print(f"[green]✓[/] wrote {result.path}{where}")


@app.command()
@user_errors
def models() -> None:
    """List the model families `model.name` accepts (from the family registry)."""
    from fraudctl.distributed.families import DASK_FAMILIES
    from fraudctl.model.families import FAMILIES
    from fraudctl.model.payloads import BLEND

    explanation = {
        "native": "exact (the library's own)",
        "tree": "exact tree SHAP where it adds up",
        "agnostic": "permutation SHAP (experiments only)",
    }
    table = Table("explanations", "serving", "on dask", "saved as", "needs", "what it is")
    # the name is the value params.yaml takes: never cut, whatever the terminal's width
    table.columns.insert(0, Column("family", no_wrap=True, min_width=22))
    for name, entry in FAMILIES.items():
        table.add_row(
            name,
            explanation[entry.explainer],
            "compiled trees" if entry.fast_scoring else entry.serving,
            "yes" if name in DASK_FAMILIES else "-",
            entry.payload.name,
            ", ".join(entry.requirements) or ("its members'" if entry.payload is BLEND else "-"),
            entry.summary,
        )
    console.print(table)


@app.command()
@user_errors
def tune(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="The family to search (default: model.name; an ensemble's first member).",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Finished trials the study should hold (default: tune.trials)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=1, help="Stop starting trials after this many seconds."),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the stored study and start over.")
    ] = False,
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
) -> None:
    """Search hyper-parameters with Optuna, scored by prequential CV; resumable.

    Writes reports/tune/best.yaml with the `dvc exp run -S ...` line that applies the best
    configuration. The test split is never read.
    """
    params, paths = load_project(params_file)
    from fraudctl.stages.tune import run as run_tune

    with _trial_progress() as (step, advance):
        result = run_tune(
            params,
            paths,
            family=model,
            trials=trials,
            timeout=timeout,
            fresh=fresh,
            progress=step,
            on_trial=advance,
        )
    best = ", ".join(f"{k}={fmt(v)}" for k, v in result.best_params.items())
    console.print(
        f"[green]✓[/] study {result.study}: {result.finished} finished trial(s) "
        f"({result.ran} now, {result.pruned} pruned in all) in {result.seconds:.0f} s"
    )
    console.print(f"best mean out-of-fold PR-AUC {result.best_value:.4f}: {best}")
    console.print(f"wrote {result.output}; apply it with the command written there")


@contextlib.contextmanager
def _trial_progress() -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """A rich progress bar over trials in a terminal; plain lines elsewhere."""
    if not console.is_terminal:
        with progress("tune") as step:
            yield step, lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[bold]tune[/]",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "{task.description}",
        console=console,
    ) as bar:
        task = bar.add_task("", total=None)

        def step(text: str) -> None:
            bar.update(task, description=text)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield step, advance


@app.command()
@user_errors
def evaluate(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Score the test split; write metrics and plots (DVC stage `evaluate`)."""
    params, paths = load_project(params_file)
    from fraudctl.stages import evaluate as stage

    with progress("evaluate") as step:
        result = stage.run(params, paths, progress=step)
    console.print(metrics_table("test", result.metrics, HEADLINE))
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(
        f"[green]✓[/] wrote {paths.metrics_file} and {len(result.outputs) - 1} plot files"
    )


@app.command()
@user_errors
def promote(
    model_version: Annotated[
        str,
        typer.Argument(
            metavar="VERSION",
            help="Registry version to make champion, or 'latest': the model in models/model.",
        ),
    ],
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
) -> None:
    """Set the `champion` alias to a registered model version by hand.

    A model validated on other data than the champion (after switching data.source on
    purpose) is registered as challenger only; `fraudctl promote latest` makes it champion.
    """
    params, paths = load_project(params_file)
    from fraudctl.tracking import set_champion

    if model_version == "latest":
        from fraudctl.model.registry_record import read_registry_record

        model_version = str(read_registry_record(paths.model_dir).get("version") or "")
        if not model_version:
            raise ArtifactError(
                f"{paths.model_dir}: no registered model recorded beside it; run "
                "`fraudctl train` (or `dvc repro`) first"
            )

    previous = set_champion(params.tracking, model_version)
    name = params.tracking.registered_model
    was = f"(was v{previous})" if previous else "(there was none)"
    console.print(f"[green]✓[/] {name}@champion -> v{model_version} {was}")
