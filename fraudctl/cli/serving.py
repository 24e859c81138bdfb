"""Scoring and serving: ``score``, ``serve``, ``shadow-report`` and the web app ``ui``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from fraudctl.cli.common import (
    ParamsOption,
    app,
    console,
    err_console,
    fail,
    load_project,
    progress,
    user_errors,
)
from fraudctl.paths import DEFAULT_PARAMS_FILE
from fraudctl.serve.options import SETTINGS


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

    Adds fraud_probability, fraud_decision (1 at or above the threshold), decision (block,
    review or allow: the model's rules, then its threshold) and rule (the deciding rule).
    INPUT may also be a directory or glob of daily parquet files: with compute.engine: dask
    in params.yaml each file is scored on the cluster into OUTPUT/<its name>.
    """
    from fraudctl.io import is_partitioned
    from fraudctl.stages.score import run

    with progress("score") as step:
        partitioned = is_partitioned(str(input_path)) and params_file.exists()
        compute = load_project(params_file)[0].compute if partitioned else None
        result = run(input_path, output, model, history, compute, progress=step)
    rate = result.rows / result.seconds if result.seconds else float("inf")
    console.print(
        f"[green]✓[/] {result.rows:,} rows scored in {result.seconds:.1f} s "
        f"({rate:,.0f} rows/s); {result.flagged:,} flagged at threshold "
        f"{result.threshold:.4f} -> {result.output}"
    )
    if result.rules:
        console.print(
            f"  the model's {result.rules} rule(s) decided {result.by_rule:,} rows; "
            f"{result.alerts:,} alerts (block or review) in all"
        )


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
        raise fail(f"agreement {summary.agreement:.2%} is below {min_agreement:.2%}", code=1)


def _serve_options() -> list[inspect.Parameter]:
    """One Typer option per setting of fraudctl.serve.options.SETTINGS: its default, help
    and FRAUDCTL_* variable come from the table, so they are written once. The table is
    plain data: building these at every start (``fraudctl --help`` too) imports neither
    pydantic-settings nor FastAPI."""
    parameters = []
    for setting in SETTINGS:
        if not setting.option:
            continue
        declarations = (
            (f"{setting.flag}/--no-{setting.flag.removeprefix('--')}",)
            if setting.kind is bool
            else ()
        )
        option = typer.Option(
            *declarations, help=setting.help, envvar=setting.env, show_envvar=True
        )
        parameters.append(
            inspect.Parameter(
                setting.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=setting.default,
                annotation=Annotated[setting.kind, option],
            )
        )
    return parameters


SERVE_EPILOG = "Also read from the environment: " + "; ".join(
    f"{setting.env} ({setting.help})" for setting in SETTINGS if not setting.option
)


def serve(**settings: Any) -> None:
    """Serve the model over HTTP: /predict, /predict/batch, /explain, /metrics, /docs."""
    from fraudctl.serve.run import run_server

    # Typer has already applied the FRAUDCTL_* variables; run_server validates the values
    # against the settings model (bounds, choices) and fails with one line.
    run_server(settings, console=err_console)


serve.__signature__ = inspect.Signature(_serve_options())  # type: ignore[attr-defined]
app.command(epilog=SERVE_EPILOG)(user_errors(serve))


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
    alerts: Annotated[
        str | None,
        typer.Option(
            envvar="FRAUDCTL_ALERT_STORE",
            help="The alert queue analysts work (where serve and stream queue alerts): "
            "sqlite:///path or redis://host:port/db; default: the online store's Redis when "
            "it is one, else sqlite:///data/alerts/alerts.db.",
        ),
    ] = None,
    online_store: Annotated[
        str | None,
        typer.Option(
            envvar="FRAUDCTL_ONLINE_STORE",
            help="Where analysts' decisions go as labels (default: the project's online "
            "store, if it exists).",
        ),
    ] = None,
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
) -> None:
    """A web app over the project's outputs and registry: model, alert queue, scoring,
    experiments.

    It reads what the stages wrote and the MLflow registry; it never retrains. Promotion
    from the Registry page is off unless FRAUDCTL_ADMIN_TOKEN is set.
    """
    import os
    import sys

    load_project(params_file)  # bad params stop here, with the usual message
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise ModuleNotFoundError("streamlit is not installed", name="streamlit")
    app_file = Path(__file__).resolve().parents[1] / "ui" / "app.py"  # fraudctl/ui/app.py
    env = {
        **os.environ,
        "FRAUDCTL_UI_ROOT": str(Path.cwd()),
        "FRAUDCTL_UI_PARAMS": str(params_file.resolve()),
        "FRAUDCTL_UI_API": api or "",
        "FRAUDCTL_ALERT_STORE": alerts or "",
        "FRAUDCTL_ONLINE_STORE": online_store or "",
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
