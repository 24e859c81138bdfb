"""The consumer's settings: one model, each setting's default, help and variable written once.

`fraudctl stream --help` is generated from the fields below (an option per field, its
environment variable shown beside it), the Deployment and the Compose service set the same
variables, and :func:`validate` checks whatever arrived with pydantic, lazily: this module
imports only the standard library and ``annotated_types``, so the CLI stays instant.

Variables are ``FRAUDCTL_STREAM_<NAME>``, except the settings shared with ``fraudctl
serve`` (model, online store, log level, tracking URI), which keep serve's names.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le

from fraudctl.errors import ConfigError
from fraudctl.paths import DEFAULT_ONLINE_STORE

ENV_PREFIX = "FRAUDCTL_STREAM_"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def setting(default: Any, help: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class StreamSettings:
    model: str = setting(
        "models/model",
        "Model directory, or a registry URI such as models:/fraud-detector@champion.",
        env="FRAUDCTL_MODEL",
    )
    online_store: str = setting(
        DEFAULT_ONLINE_STORE,
        "History features' store: sqlite:///path (one consumer) or redis://host:port/db "
        "(consumers on several machines).",
        env="FRAUDCTL_ONLINE_STORE",
    )
    tracking_uri: str | None = setting(
        None, "MLflow tracking URI, for models:/ URIs.", env="MLFLOW_TRACKING_URI"
    )
    broker: str = setting(
        "redis://127.0.0.1:6379/0", "The Redis server holding the streams: redis://host:port/db."
    )
    transactions: str = setting("transactions", "Stream of raw transactions (JSON).")
    labels: str = setting("labels", "Stream of fraud labels (JSON); empty: none.")
    decisions: str = setting("decisions", "Stream the decisions are appended to.")
    alerts: str = setting("alerts", "Stream the alerts go to; empty: none.")
    alert_store: str = setting(
        "",
        "The analysts' queue the alerts also go to (what the web app reads): "
        "sqlite:///path or redis://host:port/db; empty: the online store's Redis when it "
        "is one, else sqlite:///data/alerts/alerts.db; off: none.",
        env="FRAUDCTL_ALERT_STORE",
    )
    dead_letters: str = setting(
        "dead-letters", "Stream of messages that could not be scored, with the reason."
    )
    group: str = setting("fraudctl", "Consumer group: consumers in one group share the work.")
    consumer: str = setting(
        "", "This consumer's name in the group, unique per process; empty: the host name."
    )
    batch_size: Annotated[int, Ge(1), Le(10_000)] = setting(
        2000,
        "Most transactions scored in one micro-batch (a read returns what is there: batches "
        "fill up only when the stream is ahead).",
    )
    block_ms: Annotated[int, Ge(1), Le(60_000)] = setting(
        1000, "How long one read waits for new messages (milliseconds)."
    )
    claim_idle_ms: Annotated[int, Ge(1), Le(86_400_000)] = setting(
        30_000,
        "A message pending this long with another consumer (killed, stuck) is claimed "
        "(milliseconds).",
    )
    max_deliveries: Annotated[int, Ge(1), Le(1000)] = setting(
        5, "A message claimed this many times without a decision goes to the dead letters."
    )
    retry_max_seconds: Annotated[float, Ge(0.05), Le(600)] = setting(
        10.0, "Longest wait between attempts to reach Redis again (the backoff's cap)."
    )
    exit_when_idle: Annotated[float, Ge(0), Le(86_400)] = setting(
        0.0,
        "Stop after this many seconds with nothing to read and nothing pending in the "
        "group (0: run until stopped).",
    )
    metrics_host: str = setting("127.0.0.1", "Interface of /metrics and the health probes.")
    metrics_port: Annotated[int, Ge(0), Le(65_535)] = setting(
        9102, "Port of /metrics and the health probes (0: none)."
    )
    log_level: LogLevel = setting(  # noqa: RUF009 - a field, as every setting above
        "INFO", "DEBUG, INFO, WARNING or ERROR.", env="FRAUDCTL_LOG_LEVEL"
    )

    @property
    def consumer_name(self) -> str:
        return self.consumer or socket.gethostname()

    @property
    def streams(self) -> dict[str, str]:
        """The streams this consumer reads or writes, by role (empty ones left out)."""
        named = {
            "transactions": self.transactions,
            "labels": self.labels,
            "decisions": self.decisions,
            "alerts": self.alerts,
            "dead_letters": self.dead_letters,
        }
        return {role: name for role, name in named.items() if name}


def fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(StreamSettings)


def variable(setting_field: dataclasses.Field) -> str:
    """The environment variable of one setting."""
    return setting_field.metadata.get("env") or ENV_PREFIX + setting_field.name.upper()


def validate(values: dict[str, Any]) -> StreamSettings:
    """Settings from option values (the CLI has applied the environment), checked: one
    ConfigError naming the variable of every wrong value."""
    from pydantic import TypeAdapter, ValidationError

    try:
        settings = TypeAdapter(StreamSettings).validate_python(values)
    except ValidationError as exc:
        by_name = {f.name: variable(f) for f in fields()}
        problems = "; ".join(
            f"{by_name.get(str(error['loc'][0]), error['loc'][0]) if error['loc'] else ''}: "
            f"{error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ConfigError(f"stream settings: {problems}") from None
    named = [name for name in settings.streams.values()]
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise ConfigError(f"stream settings: stream {repeated[0]!r} is named for two roles")
    if not settings.broker.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"stream settings: {variable(_field('broker'))}={settings.broker!r}: expected "
            "redis://host:port/db (Redis Streams is the transport built; see "
            "fraudctl/stream/transport.py to add another)"
        )
    return settings


def _field(name: str) -> dataclasses.Field:
    return next(f for f in fields() if f.name == name)
