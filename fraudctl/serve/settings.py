"""Service settings, read from FRAUDCTL_* environment variables (and the CLI's options).

The container and the Kubernetes Deployment configure the service only through these.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudctl.paths import DEFAULT_ONLINE_STORE


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUDCTL_", extra="ignore", frozen=True)

    model: str = "models/model"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    max_batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    admin_token: SecretStr | None = None
    tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # history features: sqlite:///path (one pod) or redis://host:port/db (several pods)
    online_store: str = DEFAULT_ONLINE_STORE
    # With --model models:/name@alias: how often to ask the registry where the alias points
    # (and for the shared threshold); 0 loads once and never looks again.
    poll_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    # Also load the `challenger` alias of a followed model and score every request with it
    # off the request path (fraudctl_shadow_* metrics; `fraudctl shadow-report`).
    shadow: bool = False
    # Share of single transactions the challenger decides (a canary release), routed by a
    # hash of the customer (or transaction) id: 0 turns it off (fraudctl.serve.canary).
    canary: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    # Threads that score one large batch (the compiled forest splits its rows; a single row
    # always takes one): 0 shares the cores this process may use among the workers.
    batch_threads: Annotated[int, Field(ge=0, le=64)] = 0

    @property
    def scoring_threads(self) -> int:
        if self.batch_threads:
            return self.batch_threads
        return max(1, len(os.sched_getaffinity(0)) // self.workers)
