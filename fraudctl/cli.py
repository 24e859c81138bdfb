"""The ``fraudctl`` command line: parse options, load params, call one stage, render the result.

Commands stay thin and import their stage lazily, so ``fraudctl --help`` never pays for
pandas, scikit-learn or MLflow. User mistakes (``FraudctlError``) become one red line and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table

from fraudctl import __version__, help_style
from fraudctl.config import (
    DEFAULT_ONLINE_STORE,
    DEFAULT_PARAMS_FILE,
    Params,
    ProjectPaths,
    load_params,
)
from fraudctl.errors import ArtifactError, FraudctlError

help_style.apply()

app = typer.Typer(
    name="fraudctl",
    help="Credit-card fraud detection, data to served model: a DVC pipeline tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
experiment_app = typer.Typer(
    help="Robustness, fairness and drift experiments on the trained model.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")
features_app = typer.Typer(
    help="History features: build them for training, load the online store for serving.",
    no_args_is_help=True,
)
app.add_typer(features_app, name="features")

console = Console()
err_console = Console(stderr=True)

ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="The params file to read.", dir_okay=False)
]
F = TypeVar("F", bound=Callable[..., Any])


# Optional libraries and the extra that installs each.
EXTRAS = {
    "fairlearn": "experiments",
    "shap": "experiments",
    "evidently": "experiments",
    "fastapi": "serve",
    "uvicorn": "serve",
    "numba": "serve",
    "redis": "serve",
    "prometheus_client": "serve",
    "pydantic_settings": "serve",
    "orjson": "serve",
    "xgboost": "models",
    "catboost": "models",
    "imblearn": "models",
    "optuna": "models",
    "torch": "torch",
    "streamlit": "ui",
}
DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of that path is a file, not a folder",
    errno.EISDIR: "that path is a folder",
}


def _fail(message: str, code: int = 2) -> typer.Exit:
    """One red line; the message is escaped, so [brackets] in paths and hints survive."""
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _disk_error(exc: OSError) -> str | None:
    """One line for a full, read-only or forbidden disk (None: not such an error)."""
    import shutil

    if isinstance(exc, shutil.Error):  # copytree: a list of (source, destination, why)
        first = exc.args[0][0] if exc.args and exc.args[0] else None
        why = first[2] if first else str(exc)
        return f"cannot copy {first[1] if first else 'outputs'}: {why}; fix that and run again"
    if exc.errno not in DISK_ERRORS:
        return None
    where: Path | str = "an output"
    if exc.filename is not None:
        where = Path(exc.filename)
        where = where.parent if where.name.startswith(".") else where
    return (
        f"cannot write {where}: {DISK_ERRORS[exc.errno]}; fix that and run again "
        "(outputs are written whole or not at all: the previous ones are unchanged)"
    )


# Failures of the systems fraudctl talks to, by the module their exception comes from.
OUTSIDE_SYSTEMS = {
    "sqlalchemy": "the MLflow store",
    "sqlite3": "a SQLite database (the online store?)",
    "redis": "Redis (the online store)",
    "optuna": "the Optuna study storage (tune.storage)",
}


def outside_failure(exc: Exception) -> str | None:
    """One line for a store that is unreachable, read-only or not a database."""
    root = type(exc).__module__.split(".")[0]
    if isinstance(exc, OSError):
        return _disk_error(exc)
    system = OUTSIDE_SYSTEMS.get(root)
    if system is None:
        return None
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return f"{system} failed: {first}"


def user_errors(command: F) -> F:
    """Turn a user's problem into one red line and exit code 2: a FraudctlError, a disk that
    is full or read-only, an optional extra that is not installed. Other errors are bugs
    and keep their tracebacks."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FraudctlError as exc:
            raise _fail(str(exc), exc.exit_code) from None
        except ModuleNotFoundError as exc:
            root = (exc.name or "").split(".")[0]
            if root not in EXTRAS:
                raise
            raise _fail(
                f"{root} is not installed; this command needs the {EXTRAS[root]!r} extra: "
                f"pip install 'fraudctl[{EXTRAS[root]}]'"
            ) from None
        except OSError as exc:
            message = _disk_error(exc)
            if message is None:
                raise
            raise _fail(message) from None
        except Exception as exc:
            message = outside_failure(exc)
            if message is None:
                raise
            raise _fail(message) from None

    return wrapper  # type: ignore[return-value]


HEARTBEAT_SECONDS = 30.0


@contextlib.contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner whose text the stage updates through the callback it is given.

    When stdout is not a terminal (CI, ``dvc repro``, ``nohup``) a spinner shows nothing,
    so each step is one plain line with the seconds since the stage began instead: a long
    stage never goes silent for minutes.
    """
    import threading
    import time

    started = time.monotonic()
    last = {"step": "starting", "at": started}
    done = threading.Event()

    def heartbeat() -> None:
        """A long step (a fold's fit, a tune trial) says it is alive every HEARTBEAT_SECONDS,
        in a terminal and in a CI log alike, so a run never looks stuck."""
        while not done.wait(HEARTBEAT_SECONDS / 3):
            now = time.monotonic()
            if now - last["at"] >= HEARTBEAT_SECONDS:
                last["at"] = now
                console.print(
                    f"{title}: still {last['step']} ({now - started:.0f} s)",
                    markup=False,
                    highlight=False,
                )

    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    try:
        if not console.is_terminal:

            def line(step: str) -> None:
                last.update(step=step, at=time.monotonic())
                seconds = last["at"] - started
                console.print(f"{title}: {step} ({seconds:.0f} s)", markup=False, highlight=False)

            yield line
            return
        with console.status(f"[bold]{title}[/]") as status:

            def show(step: str) -> None:
                last.update(step=step, at=time.monotonic())
                status.update(f"[bold]{title}[/]: {step}")

            yield show
    finally:
        done.set()
        beating.join()


@contextlib.contextmanager
def _emissions(stage: str, params: Params, paths: ProjectPaths) -> Iterator[Any]:
    """CodeCarbon around a stage; its file is written only when the stage succeeded."""
    from fraudctl.emissions import measured, record

    with measured(stage, params.emissions) as used:
        yield used
    record(paths, used)
    if used.as_metrics():
        _log_to_training_run(params, paths, used.as_metrics(), prefix=f"{stage}_")
        kwh, kg = used.as_metrics().values()
        console.print(
            f"{stage}: {kwh * 1000:.3g} Wh, {kg * 1000:.3g} g CO₂e (CodeCarbon, offline)",
            highlight=False,
        )


def _log_to_training_run(
    params: Params, paths: ProjectPaths, metrics: dict[str, float], prefix: str
) -> None:
    """Metrics about the current model join the run that trained it."""
    from fraudctl import tracking
    from fraudctl.model.bundle import read_registry_record

    run_id = read_registry_record(paths.model_dir).get("run_id")
    if run_id:
        with tracking.run(params.tracking, params.tracking.experiment, run_id=run_id):
            tracking.log_metrics(metrics, prefix=prefix)


def _load(params_file: Path) -> tuple[Params, ProjectPaths]:
    if not params_file.exists() and params_file == DEFAULT_PARAMS_FILE:
        err_console.print(
            f"[yellow]note:[/] {params_file} not found: using fraudctl's built-in defaults "
            "(the synthetic ULB-shaped data); run from the project folder, or pass --params"
        )
    return load_params(params_file), ProjectPaths()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def metrics_table(title: str, values: dict[str, Any], keys: list[str] | None = None) -> Table:
    """Headline metrics; money metrics of data without amounts show as n/a."""
    table = Table(title=title, show_header=False, title_justify="left")
    for key in keys or list(values):
        if key in values:
            table.add_row(key, _fmt(values[key]))
        elif key in MONEY_METRICS:
            table.add_row(key, "n/a (no amount column)")
    return table


MONEY_METRICS = ("fraud_amount_caught", "fraud_amount_missed", "expected_cost")


HEADLINE = [
    "pr_auc",
    "roc_auc",
    "recall_at_fpr",
    "precision_at_k",
    "card_precision_at_k",
    "threshold",
    "precision",
    "recall",
    "f1",
    "alerts",
    "fraud_amount_caught",
    "fraud_amount_missed",
    "expected_cost",
]


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
    params, paths = _load(params_file)
    from fraudctl.engines import prepare

    with progress("prepare") as step:
        step("reading and validating")
        result = prepare(params, paths, source=source)
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
            _fmt_time(part.time_min),
            _fmt_time(part.time_max),
        )
    console.print(table)


def _fmt_time(value: float | str) -> str:
    """Datetimes as text; numeric times as plain numbers (a year is 1994, not 1,994)."""
    if isinstance(value, str):
        return value
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}"


@features_app.command("build")
@user_errors
def features_build(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Compute the declared features for every split (DVC stage `features`)."""
    params, paths = _load(params_file)
    from fraudctl.engines import build_features

    with progress("features") as step:
        result = build_features(params, paths, progress=step)
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
    from fraudctl.features.materialize import materialize_store

    _, paths = _load(params_file)
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
    from fraudctl.features.materialize import record_labels

    recorded, unknown = record_labels(labels_file, store)
    console.print(f"[green]✓[/] {recorded:,} label(s) recorded; {unknown:,} unknown transaction(s)")


@app.command()
@user_errors
def train(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Fit the model, pick its threshold on validation, save and register it (stage `train`)."""
    params, paths = _load(params_file)
    from fraudctl.engines import train as run_train

    with _emissions("train", params, paths), progress(f"train {params.model.name}") as step:
        result = run_train(params, paths, progress=step)
    console.print(
        f"[green]✓[/] {result.model_name} fitted on {result.train_rows:,} rows "
        f"in {result.fit_seconds:.1f} s; threshold {result.threshold.value:.4f} "
        f"({result.threshold.strategy})"
    )
    if result.threshold.note:
        console.print(f"[yellow]note:[/] {result.threshold.note}")
    console.print(metrics_table("validation", result.validation, HEADLINE))
    status = "[green]champion[/]" if result.promotion.promoted else "challenger"
    console.print(
        f"registered {params.tracking.registered_model} v{result.version} as {status}: "
        f"{result.promotion.reason} (run {result.run_id})"
    )


@app.command()
@user_errors
def card(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Write reports/model_card.md with bootstrap intervals (DVC stage `card`)."""
    params, paths = _load(params_file)
    from fraudctl.model.card import build_card

    with progress("model card") as step:
        result = build_card(params, paths, progress=step)
    where = f"; attached to {result.attached_to}" if result.attached_to else ""
    console.print(f"[green]✓[/] wrote {result.path}{where}")


UI_EPILOG = "Needs the `ui` extra: pip install 'fraudctl\\[ui]'. Stop it with Ctrl+C."


@app.command(epilog=UI_EPILOG)
@user_errors
def ui(
    host: Annotated[
        str, typer.Option(envvar="FRAUDCTL_UI_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="FRAUDCTL_UI_PORT", min=1, max=65535, help="Port.")
    ] = 8501,
    api: Annotated[
        str | None,
        typer.Option(
            envvar="FRAUDCTL_UI_API",
            help="A running `fraudctl serve` (e.g. http://127.0.0.1:8000): score through "
            "it and show its live metrics.",
        ),
    ] = None,
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
) -> None:
    """A web app over the project's outputs and registry: model, scoring, experiments.

    It reads what the stages wrote and the MLflow registry; it never retrains. Promotion
    from the Registry page is off unless FRAUDCTL_ADMIN_TOKEN is set.
    """
    import os
    import sys

    _load(params_file)  # bad params stop here, with the usual message
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise ModuleNotFoundError("streamlit is not installed", name="streamlit")
    app_file = Path(__file__).parent / "ui" / "app.py"
    env = {
        **os.environ,
        "FRAUDCTL_UI_ROOT": str(Path.cwd()),
        "FRAUDCTL_UI_PARAMS": str(params_file.resolve()),
        "FRAUDCTL_UI_API": api or "",
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_file),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]
    console.print(f"fraudctl ui on http://{host}:{port} (Ctrl+C stops it)")
    sys.stdout.flush()
    # Streamlit takes this process's place, so a SIGTERM from a supervisor (or a test)
    # stops the server itself; as a child it was left running when fraudctl was killed.
    os.execve(sys.executable, command, env)


@app.command()
@user_errors
def models() -> None:
    """List the model families `model.name` accepts (from the family registry)."""
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
            "yes" if entry.distributed else "-",
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
    params, paths = _load(params_file)
    from fraudctl.model.tune import tune as run_tune

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
    best = ", ".join(f"{k}={_fmt(v)}" for k, v in result.best_params.items())
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
    params, paths = _load(params_file)
    from fraudctl.model.evaluate import evaluate as run_evaluate

    with progress("evaluate") as step:
        result = run_evaluate(params, paths, progress=step)
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
    params, paths = _load(params_file)
    from fraudctl.tracking import set_champion

    if model_version == "latest":
        from fraudctl.model.bundle import read_registry_record

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


@experiment_app.command("poison")
@user_errors
def experiment_poison(params_file: ParamsOption = DEFAULT_PARAMS_FILE) -> None:
    """Label-poisoning attacks x levels x seeds, with and without the defence."""
    params, paths = _load(params_file)
    from fraudctl.experiments.poison import run_poisoning

    with _emissions("poison", params, paths), progress("poisoning") as step:
        result = run_poisoning(params, paths, progress=step)
    table = Table(
        "attack",
        "level",
        "changed",
        "PR-AUC undefended",
        "PR-AUC defended",
        title="test PR-AUC, mean ± sd over seeds",
        title_justify="left",
    )
    for attack, cells in result.metrics["attacks"].items():
        for level, cell in cells.items():
            u, d = cell["undefended"]["pr_auc"], cell["defended"]["pr_auc"]
            table.add_row(
                attack,
                level,
                f"{cell['labels_changed']:,}",
                f"{u['mean']:.3f} ± {u['std']:.3f}",
                f"{d['mean']:.3f} ± {d['std']:.3f}",
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
    params, paths = _load(params_file)
    from fraudctl.experiments.fairness import run_fairness

    with _emissions("fairness", params, paths), progress("fairness") as step:
        result = run_fairness(params, paths, progress=step)
    metrics = result.metrics
    table = Table(
        "group",
        "rows",
        "frauds",
        "recall",
        "FPR",
        "precision",
        title=f"by {metrics['group_column']}",
        title_justify="left",
    )
    for group, row in metrics["by_group"].items():
        table.add_row(
            group,
            _fmt(int(row["count"])),
            _fmt(int(row["frauds"])),
            _fmt(row["recall"]),
            _fmt(row["false_positive_rate"]),
            _fmt(row["precision"]),
        )
    console.print(table)
    top = ", ".join(f["feature"] for f in metrics["shap"]["top_features"][:5])
    console.print(f"top SHAP features: {top}")
    mark = "[green]✓[/]" if metrics["checks"]["passed"] else "[yellow]![/]"
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
    params, paths = _load(params_file)
    from fraudctl.experiments.drift import run_drift

    with _emissions("drift", params, paths), progress("drift") as step:
        result = run_drift(params, paths, current_path=current, simulate=simulate, progress=step)
    mark = "[red]✗[/]" if result.drift_detected else "[green]✓[/]"
    console.print(f"{mark} {result.headline}")
    console.print(f"see {result.directory / 'summary.md'} and report.html")
    if result.drift_detected and fail_on_drift:
        raise typer.Exit(1)


@app.command()
@user_errors
def score(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Raw transactions: CSV, CSV.gz or parquet.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write rows with their scores.")
    ],
    history: Annotated[
        Path | None,
        typer.Option(help="Earlier transactions (labels optional) feeding history features."),
    ] = None,
    model: Annotated[Path, typer.Option(help="The model directory.")] = Path("models/model"),
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
) -> None:
    """Score a file of raw transactions: probability and decision per row.

    INPUT may also be a directory or glob of daily parquet files: with compute.engine: dask
    in params.yaml each file is scored on the cluster into OUTPUT/<its name>.
    """
    from fraudctl.io import is_partitioned

    with progress("score") as step:
        partitioned = is_partitioned(str(input_path)) and params_file.exists()
        compute = _load(params_file)[0].compute if partitioned else None
        if compute is not None and compute.engine == "dask":
            from fraudctl.distributed.score import score_partitions

            result = score_partitions(
                str(input_path),
                output,
                model,
                compute,
                str(history) if history else None,
                progress=step,
            )
        else:
            from fraudctl.score import score_file

            result = score_file(input_path, output, model, history, progress=step)
    rate = result.rows / result.seconds if result.seconds else float("inf")
    console.print(
        f"[green]✓[/] {result.rows:,} rows scored in {result.seconds:.1f} s "
        f"({rate:,.0f} rows/s); {result.flagged:,} flagged at threshold "
        f"{result.threshold:.4f} -> {result.output}"
    )


@app.command()
@user_errors
def report(
    base: Annotated[
        str, typer.Option(help="Git revision to compare with (branch, tag or commit).")
    ] = "main",
    output: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "reports/report.md"
    ),
) -> None:
    """Markdown report of metric, param and curve changes against a git revision (for CML)."""
    from fraudctl.report import build_report

    with progress("report") as step:
        step(f"comparing with {base}")
        result = build_report(ProjectPaths(), base, output)
    console.print(f"[green]✓[/] {result.path}: {result.verdict}")
    if result.base is None:
        console.print(f"[yellow]note:[/] no base revision {base!r}; absolute values shown")


@app.command("shadow-report")
@user_errors
def shadow_report(
    url: Annotated[
        str, typer.Option(help="The running service (its /metrics is read).")
    ] = "http://127.0.0.1:8000",
    min_agreement: Annotated[
        float | None,
        typer.Option(help="Exit 1 when the share of agreeing decisions is below this."),
    ] = None,
) -> None:
    """How the challenger would have scored live traffic (fraudctl serve with shadow on)."""
    from fraudctl.shadow_report import ShadowReportError, fetch, summarise

    summary = summarise(fetch(url))
    if summary.compared == 0:
        raise ShadowReportError(
            f"{url}: no shadow-scored transactions yet; serve a models:/name@champion model "
            "with FRAUDCTL_SHADOW=true and a challenger alias"
        )
    rate = summary.compared or 1
    console.print(
        f"challenger v{summary.challenger_version or '?'} against the champion on "
        f"{summary.compared:,} live transactions"
    )
    console.print(f"  decisions agree      {summary.agreement:.2%}")
    console.print(
        f"  alert rate           champion {summary.champion_alerts / rate:.3%}, "
        f"challenger {summary.challenger_alerts / rate:.3%}"
    )
    console.print(
        f"  mean |score change|  {summary.mean_abs_difference:.5f} "
        f"({summary.large_differences:,} transactions changed by more than 0.1)"
    )
    if summary.dropped:
        console.print(f"  not compared         {summary.dropped:,} (the shadow queue was full)")
    if min_agreement is not None and summary.agreement < min_agreement:
        raise _fail(f"agreement {summary.agreement:.2%} is below {min_agreement:.2%}", code=1)


SERVE_EPILOG = (
    "Also read from the environment: FRAUDCTL_ONLINE_STORE (history features; default "
    "sqlite:///data/online/store.db, or redis://host:port/db), FRAUDCTL_ADMIN_TOKEN (enables "
    "PUT /model/threshold and POST /labels; unset or empty disables them), "
    "FRAUDCTL_MAX_BATCH_SIZE (default 10000), FRAUDCTL_LOG_LEVEL (default INFO) and "
    "MLFLOW_TRACKING_URI (for models:/ URIs)."
)


@app.command(epilog=SERVE_EPILOG)
@user_errors
def serve(
    model: Annotated[
        str,
        typer.Option(
            help="Model directory, or a registry URI such as models:/fraud-detector@champion.",
            envvar="FRAUDCTL_MODEL",
            show_envvar=True,
        ),
    ] = "models/model",
    host: Annotated[
        str,
        typer.Option(
            help="Interface to listen on.",
            envvar="FRAUDCTL_HOST",
            show_envvar=True,
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            help="Port to listen on.",
            envvar="FRAUDCTL_PORT",
            show_envvar=True,
        ),
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes.",
            envvar="FRAUDCTL_WORKERS",
            show_envvar=True,
        ),
    ] = 1,
) -> None:
    """Serve the model over HTTP: /predict, /predict/batch, /explain, /metrics, /docs."""
    from fraudctl.serve.run import run_server

    # Typer has already applied the FRAUDCTL_* variables above; the rest come from settings.
    overrides = {"model": model, "host": host, "port": port, "workers": workers}
    run_server(overrides, console=err_console)


def main() -> None:  # pragma: no cover - console-script shim
    app()
