"""Service settings, read from FRAUDCTL_* environment variables (and the CLI's options).

The container and the Kubernetes Deployment configure the service only through these. The
fields are generated from :data:`fraudctl.serve.options.SETTINGS`, where each setting's
default, help, bounds and variable are written once (``fraudctl serve`` reads the same
table for its options).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudctl.serve.options import ENV_PREFIX, SETTINGS, Setting


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    @property
    def scoring_threads(self) -> int:
        """Threads for one large batch: the setting, or the cores shared among workers."""
        batch_threads: int = self.batch_threads  # type: ignore[attr-defined]
        if batch_threads:
            return batch_threads
        return max(1, len(os.sched_getaffinity(0)) // self.workers)  # type: ignore[attr-defined]


def _field(setting: Setting) -> tuple[Any, Any]:
    kind: Any = setting.kind
    if setting.choices:
        kind = Literal[setting.choices]
    if setting.secret:
        kind = SecretStr
    if setting.default is None:
        kind = kind | None
    field = Field(
        default=setting.default,
        description=setting.help,
        ge=setting.low,
        le=setting.high,
        validation_alias=setting.variable,
    )
    return kind, field


ServeSettings = create_model(  # type: ignore[call-overload]
    "ServeSettings",
    __base__=_Settings,
    __module__=__name__,
    __doc__="The service's settings: one field per row of fraudctl.serve.options.SETTINGS.",
    **{setting.name: _field(setting) for setting in SETTINGS},
)
