"""Every setting of the service, written once: name, default, help, bounds, environment variable.

Two things are generated from this table: the settings model the app reads
(:mod:`fraudctl.serve.settings`, pydantic-settings) and the options of ``fraudctl serve``
(:mod:`fraudctl.cli.serving`). It is plain data on purpose: the CLI builds its options
from it at every start, ``fraudctl --help`` included, and must not pay for pydantic-settings
or FastAPI to do so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraudctl.paths import DEFAULT_ONLINE_STORE

ENV_PREFIX = "FRAUDCTL_"


@dataclass(frozen=True)
class Setting:
    """One setting. ``kind`` is the Python type of its value (str, int, float, bool);
    ``low``/``high`` bound a number, ``choices`` a text; ``option=False`` keeps it out
    of the command line (a secret must not show in the process list), read from the
    environment only; ``secret`` hides its value in the settings' repr."""

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    option: bool = True
    secret: bool = False
    variable: str | None = None  # the environment variable, when not FRAUDCTL_<NAME>

    @property
    def env(self) -> str:
        return self.variable or f"{ENV_PREFIX}{self.name.upper()}"

    @property
    def flag(self) -> str:
        return f"--{self.name.replace('_', '-')}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "model",
        str,
        "models/model",
        "Model directory, or a registry URI such as models:/fraud-detector@champion.",
    ),
    Setting("host", str, "127.0.0.1", "Interface to listen on."),
    Setting("port", int, 8000, "Port to listen on.", low=1, high=65535),
    Setting("workers", int, 1, "Worker processes.", low=1, high=64),
    Setting(
        "online_store",
        str,
        DEFAULT_ONLINE_STORE,
        "History features' store: sqlite:///path (one pod) or redis://host:port/db.",
    ),
    Setting(
        "alert_store",
        str,
        "",
        "Where alerts (a rule's or the model's review or block) are queued for analysts: "
        "sqlite:///path or redis://host:port/db; empty: the online store's Redis when it is "
        "one, else the web app's default (sqlite:///data/alerts/alerts.db); off: none.",
    ),
    Setting(
        "max_batch_size",
        int,
        10_000,
        "Most transactions one /predict/batch may carry.",
        low=1,
        high=1_000_000,
    ),
    Setting(
        "poll_seconds",
        float,
        30.0,
        "With models:/name@alias: how often to ask where the alias points (0: never).",
        low=0,
        high=3600,
    ),
    Setting(
        "shadow",
        bool,
        False,
        "Also score every request with the challenger, off the request path.",
    ),
    Setting(
        "canary",
        float,
        0.0,
        "Share of single transactions the challenger decides (a canary), sticky by "
        "customer or transaction id; 0: off.",
        low=0.0,
        high=1.0,
    ),
    Setting(
        "batch_threads",
        int,
        0,
        "Threads that score one large batch (0: the cores shared among workers).",
        low=0,
        high=64,
    ),
    Setting(
        "log_level",
        str,
        "INFO",
        "DEBUG, INFO, WARNING or ERROR.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    Setting(
        "log_sample",
        float,
        1.0,
        "Share of answered requests written to the request log (4xx and 5xx always are; "
        "1: every request, as an audit needs).",
        low=0.0,
        high=1.0,
    ),
    Setting(
        "log_flush_seconds",
        float,
        0.05,
        "How long a request's log record may wait to be written: the writer thread writes "
        "what gathered meanwhile in one go (and everything left at shutdown).",
        low=0.001,
        high=60,
    ),
    Setting(
        "admin_token",
        str,
        None,
        "enables PUT /model/threshold and POST /labels; unset or empty disables them; "
        "never an option, so it stays out of the process list",
        option=False,
        secret=True,
    ),
    Setting(
        "tracking_uri",
        str,
        None,
        "for models:/ URIs",
        option=False,
        variable="MLFLOW_TRACKING_URI",
    ),
)
