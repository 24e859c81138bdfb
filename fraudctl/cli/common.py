"""What every command shares: the Typer app and its groups, the consoles, one-line user
errors, progress with a heartbeat, the metrics table and the params loader."""

from __future__ import annotations

import contextlib
import errno
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from fraudctl import help_style
from fraudctl.errors import ConfigError, FraudctlError
from fraudctl.paths import DEFAULT_PARAMS_FILE, ProjectPaths

if TYPE_CHECKING:
    from fraudctl.config import Params

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
release_app = typer.Typer(
    help="Blue-green releases on Kubernetes (k8s/blue-green/): status, switch, rollback.",
    no_args_is_help=True,
)
app.add_typer(release_app, name="release")
cycle_app = typer.Typer(
    help="Continuous training, one simulated day at a time (docs: Continuous training).",
    no_args_is_help=True,
)
app.add_typer(cycle_app, name="cycle")

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


def fail(message: str, code: int = 2) -> typer.Exit:
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
            raise fail(str(exc), exc.exit_code) from None
        except ModuleNotFoundError as exc:
            root = (exc.name or "").split(".")[0]
            if not root or root == "fraudctl":
                raise  # fraudctl's own module missing: a bug, not the user's environment
            if root not in EXTRAS:  # e.g. the library of a model family added since
                message = f"{root} is not installed; this command needs it: pip install {root}"
                raise fail(message) from None
            raise fail(
                f"{root} is not installed; this command needs the {EXTRAS[root]!r} extra: "
                f"pip install 'fraudctl[{EXTRAS[root]}]'"
            ) from None
        except OSError as exc:
            message = _disk_error(exc)
            if message is None:
                raise
            raise fail(message) from None
        except Exception as exc:
            message = outside_failure(exc)
            if message is None:
                raise
            raise fail(message) from None

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
def emissions_of(stage: str, params: Params, paths: ProjectPaths) -> Iterator[Any]:
    """A stage's energy, measured around it and printed once it succeeded."""
    from fraudctl.stages.energy import measured_stage

    with measured_stage(stage, params, paths) as used:
        yield used
    if used.as_metrics():
        kwh, kg = used.as_metrics().values()
        console.print(
            f"{stage}: {kwh * 1000:.3g} Wh, {kg * 1000:.3g} g CO₂e (CodeCarbon, offline)",
            highlight=False,
        )


def load_project(params_file: Path) -> tuple[Params, ProjectPaths]:
    """params.yaml checked whole (:mod:`fraudctl.stages.project`) and the project's paths.
    A command run where there is no params.yaml is run in the wrong folder (almost always):
    built-in defaults there would quietly read, or write, another project's files, so it
    stops and says where it looked."""
    from fraudctl.stages.project import load

    if not params_file.exists() and params_file == DEFAULT_PARAMS_FILE:
        raise ConfigError(
            f"{params_file} not found in {Path.cwd()}: run fraudctl in the project folder "
            "(where params.yaml is), or pass --params FILE; the repository's params.yaml "
            "lists every setting with its default"
        )
    return load(params_file)


def fmt(value: Any, name: str = "") -> str:
    """A number as the report and the experiments print it (:mod:`fraudctl.numbers`)."""
    from fraudctl.numbers import number

    return number(value, name)


def metrics_table(title: str, values: dict[str, Any], keys: list[str] | None = None) -> Table:
    """Headline metrics; money metrics of data without amounts show as n/a."""
    table = Table(title=title, show_header=False, title_justify="left")
    for key in keys or list(values):
        if key in values:
            table.add_row(key, fmt(values[key], key))
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
    "card_precision_days",
    "threshold",
    "precision",
    "recall",
    "f1",
    "alerts",
    "fraud_amount_caught",
    "fraud_amount_missed",
    "expected_cost",
]
